#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Builds the libFuzzer targets (CMake preset `fuzz`: clang, ASan + UBSan, no LibTorch or Qt widgets) and runs
# every target for SECONDS_PER_TARGET (default 60), seeded from the repository's real files, with its dictionary.
# Fails on any crash, leak, timeout or out-of-memory; the input that caused it is kept under
# build/fuzz/work/artifacts/ and the log under build/fuzz/work/logs/.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]
#
# Environment: ATTNSCOPE_FUZZ_TARGETS="fuzz_npy fuzz_config" runs a subset; ATTNSCOPE_FUZZ_PARALLEL (default: the
# number of cores) targets run at a time, each on one core; ATTNSCOPE_FUZZ_WORK moves the work folder (the corpora
# there grow from run to run). A reproducer is rerun with `build/fuzz/tests/fuzz/TARGET ARTIFACT`.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
root=$PWD
work=${ATTNSCOPE_FUZZ_WORK:-$root/build/fuzz/work}
parallel=${ATTNSCOPE_FUZZ_PARALLEL:-$(nproc)}

export CMAKE_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER:-$(command -v ccache || true)}
all_targets="fuzz_safetensors fuzz_config fuzz_hf_config fuzz_safetensors_index fuzz_tokenizer_json fuzz_word_vocab
fuzz_tokenize_prompt fuzz_npy fuzz_pt_reader fuzz_pt_pickle fuzz_session fuzz_wire"
targets=${ATTNSCOPE_FUZZ_TARGETS:-$all_targets}

cmake --preset fuzz >/dev/null
# Only the targets: the preset's torch-free tests are built by whoever runs them (scripts/run-tests.sh).
# fuzz_wire's seeds are written by a program of their own (real messages made by the real conversions).
seeders=""
[[ " $targets " == *" fuzz_wire "* ]] && seeders="fuzz_wire_seeds"
# shellcheck disable=SC2086
cmake --build --preset fuzz -j "$(nproc)" --target $targets $seeders
bin=$root/build/fuzz/tests/fuzz

mkdir -p "$work/seeds" "$work/corpus" "$work/artifacts" "$work/logs" "$work/dict"

# --- seed corpora: copies of real files (never edited in place) ---
seed() { # seed TARGET FILE...: copies existing files into the target's seed folder under unique names
    local target=$1 dir=$work/seeds/$1
    shift
    mkdir -p "$dir"
    local file
    for file in "$@"; do
        [[ -f $file ]] && cp "$file" "$dir/$(echo "${file#"$root"/}" | tr '/' '_')"
    done
    return 0
}
prefixed() { # prefixed TARGET BYTE_HEX FILE: the file with one option byte in front (targets that read one)
    local dir=$work/seeds/$1
    mkdir -p "$dir"
    { printf "\\x$2"; cat "$3"; } >"$dir/$2_$(echo "${3#"$root"/}" | tr '/' '_')"
}
rm -rf "$work/seeds"
shopt -s nullglob
seed fuzz_safetensors tests/data/hf/*/model*.safetensors
seed fuzz_config resources/models/*/config.json tests/data/reference/*/config.json
seed fuzz_hf_config tests/data/hf/*/config.json
seed fuzz_safetensors_index tests/data/hf/*/model.safetensors.index.json
seed fuzz_tokenizer_json tests/data/hf-tokenizers/*/tokenizer.json tests/data/hf/*/tokenizer.json
for vocab in resources/models/*/vocab.txt; do prefixed fuzz_word_vocab 00 "$vocab"; prefixed fuzz_word_vocab 03 "$vocab"; done
for selector in 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d; do
    for prompt in resources/models/counting-softmax-cope/sample_prompt.txt resources/models/needles-diff-rope/sample_prompt.txt; do
        prefixed fuzz_tokenize_prompt "$selector" "$prompt"
    done
done
seed fuzz_npy $(ls tests/data/ram-cope/cope-postnorm/prompt_short/*.npy | head -n 6)
seed fuzz_pt_reader tests/data/pt/*.pt tests/data/state-dict/*.pt
mkdir -p "$work/seeds/fuzz_pt_pickle"
for pt in tests/data/pt/*.pt tests/data/state-dict/*.pt; do
    unzip -p "$pt" '*/data.pkl' >"$work/seeds/fuzz_pt_pickle/$(basename "$pt").pkl" 2>/dev/null || true
done
seed fuzz_session tests/fuzz/seeds/session/*
[[ -n $seeders ]] && "$bin/fuzz_wire_seeds" "$work/seeds/fuzz_wire"
# Inputs that once crashed fuzz_wire, replayed first on every run (a regression check under ASan + UBSan).
[[ -n $seeders ]] && seed fuzz_wire tests/fuzz/seeds/wire/*

# --- dictionaries: JSON tokens plus each format's names ---
dict_of() {
    case $1 in
    fuzz_safetensors) echo "json safetensors" ;;
    fuzz_config) echo "json config" ;;
    fuzz_hf_config) echo "json hf_config" ;;
    fuzz_safetensors_index) echo "json index" ;;
    fuzz_tokenizer_json) echo "json tokenizer" ;;
    fuzz_word_vocab) echo "vocab" ;;
    fuzz_tokenize_prompt) echo "prompt" ;;
    fuzz_npy) echo "npy" ;;
    fuzz_pt_reader | fuzz_pt_pickle) echo "pt" ;;
    fuzz_session) echo "json session" ;;
    fuzz_wire) echo "json config wire" ;;
    esac
}

# Inputs larger than the real files' headers only slow a target down: a safetensors header and its first tensors
# fit in 64 KiB.
extra_args_of() {
    case $1 in
    fuzz_safetensors | fuzz_pt_reader) echo "-max_len=65536" ;;
    esac
}

run_target() {
    local target=$1 parts part
    parts=$(dict_of "$target")
    : >"$work/dict/$target.dict"
    for part in $parts; do cat "tests/fuzz/dict/$part.dict" >>"$work/dict/$target.dict"; done
    mkdir -p "$work/corpus/$target"
    # -timeout: one input may take at most 10 s; -rss_limit_mb: the readers must not need much more memory
    # than the input; leaks are reported by LeakSanitizer at exit of each input's run.
    if "$bin/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
        $(extra_args_of "$target") -dict="$work/dict/$target.dict" -artifact_prefix="$work/artifacts/$target-" -print_final_stats=1 \
        "$work/corpus/$target" "$work/seeds/$target" >"$work/logs/$target.log" 2>&1; then
        echo "PASS $target"
    else
        echo "FAIL $target (log: $work/logs/$target.log)"
    fi
}
export -f run_target dict_of extra_args_of
export work bin seconds

missing=""
for target in $targets; do [[ -x $bin/$target ]] || missing+=" $target"; done
if [[ -n $missing ]]; then
    echo "fuzz.sh: not built:$missing" >&2
    exit 1
fi

started=$(date +%s)
results=$(printf '%s\n' $targets | xargs -P "$parallel" -I{} bash -c 'run_target {}')
echo "$results"
echo
printf '%-24s %12s %9s %8s %8s\n' target executions exec/s cov ft
for target in $targets; do
    log=$work/logs/$target.log
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    printf '%-24s %12s %9s %8s %8s\n' "$target" "${runs:--}" "${rate:--}" "${cov:--}" "${ft:--}"
done
echo "fuzz.sh: $(($(date +%s) - started)) s for $(echo $targets | wc -w) targets, $seconds s each, $parallel at a time"
if grep -q '^FAIL' <<<"$results"; then
    for log in "$work"/logs/*.log; do
        grep -q -E 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)|runtime error|SUMMARY' "$log" \
            && { echo "--- $log"; grep -E -A12 'ERROR:|runtime error' "$log" | head -n 40; }
    done
    ls "$work"/artifacts/ >&2
    exit 1
fi
