#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs the README's two commands on a fresh Debian 13 (trixie): LibTorch 2.6, Qt 6.8, its own QCustomPlot.
#
# Makes a trixie root with debootstrap (from the mirror this machine's apt already uses), copies the
# working tree into it (tracked and untracked-but-not-ignored files; never a build directory) and runs,
# inside it and with apt only:
#   scripts/run-tests.sh     install-deps, Debug build with -Werror, every GoogleTest and QtTest via CTest
#   scripts/run-demo.sh      Release build and the app's headless screenshot (no display in a chroot)
# Each step's log and wall time go to LOG_DIR (default out/debian13/); the screenshot is copied there too.
#
# Usage: sudo scripts/check-debian13.sh [ROOT]     ROOT defaults to /var/tmp/attnscope-trixie and is reused
#        (a second run only re-copies the sources and rebuilds incrementally).
#        STEPS="run-demo" sudo scripts/check-debian13.sh    only some of the steps
# Needs root (debootstrap, chroot, mounts) and a network path to the Debian mirror.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
ROOT=${1:-/var/tmp/attnscope-trixie}
LOG_DIR=${LOG_DIR:-$REPO/out/debian13}
mkdir -p "$LOG_DIR"

[ "$(id -u)" -eq 0 ] || { echo "check-debian13: needs root (debootstrap, chroot, mount)" >&2; exit 1; }

# The first Debian (not -security) mirror in this machine's apt sources, deb822 or one-line format.
mirror() {
  local uri
  uri=$(grep -hE '^\s*(URIs:|deb\s)' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
    /etc/apt/sources.list.d/*.list 2>/dev/null |
    grep -oE 'https?://[^ ]+/debian/?' | grep -v security | head -1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

stamp() { date +%s; }
elapsed() { echo "$(($(stamp) - $1))"; }

if ! command -v debootstrap >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap
fi

MIRROR=$(mirror)
if [ ! -f "$ROOT/etc/os-release" ] || ! grep -q 'VERSION_CODENAME=trixie' "$ROOT/etc/os-release"; then
  echo "check-debian13: debootstrap trixie into $ROOT from $MIRROR (log: $LOG_DIR/debootstrap.log)"
  t=$(stamp)
  debootstrap --variant=minbase --include=ca-certificates trixie "$ROOT" "$MIRROR" >"$LOG_DIR/debootstrap.log" 2>&1
  echo "debootstrap: $(elapsed "$t") s" | tee "$LOG_DIR/times.txt"
fi

# Mounts the chroot needs, undone on any exit.
mounted=()
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 143' INT TERM # runs the EXIT trap: no mount is left behind under ROOT
for fs in proc sys dev dev/pts; do
  mkdir -p "$ROOT/$fs"
  if mountpoint -q "$ROOT/$fs"; then
    mounted+=("$ROOT/$fs") # left by an interrupted run: ours to undo
  else
    case $fs in
    proc) mount -t proc proc "$ROOT/proc" ;;
    *) mount --bind "/$fs" "$ROOT/$fs" ;;
    esac
    mounted+=("$ROOT/$fs")
  fi
done
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"

# The working tree as a fresh clone would have it, plus uncommitted edits; the chroot's own build/ is kept.
# Extracted with the current time (-m), as a clone would be: with the files' own mtimes, an object built from an
# older copy can be newer than the changed source and ninja would link it (stale objects, undefined references).
SRC=/src/attnscope
mkdir -p "$ROOT$SRC"
git -C "$REPO" ls-files -z --cached --others --exclude-standard |
  tar -C "$REPO" --null -T - -cf - | tar -C "$ROOT$SRC" -m -xf -

in_root() {
  chroot "$ROOT" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c "cd $SRC && $1"
}

# A run interrupted during apt leaves dpkg half-configured; finishing that first is a no-op otherwise.
in_root "dpkg --configure -a" >>"$LOG_DIR/debootstrap.log" 2>&1

status=0 demo_passed=0
for step in ${STEPS:-run-tests run-demo}; do # both run even when the first fails: each is a result
  echo "check-debian13: scripts/$step.sh in trixie (log: $LOG_DIR/$step.log)"
  t=$(stamp)
  if in_root "scripts/$step.sh" >"$LOG_DIR/$step.log" 2>&1; then result=passed; else result=FAILED; status=1; fi
  [ "$step/$result" = run-demo/passed ] && demo_passed=1
  echo "$step: $result in $(elapsed "$t") s" | tee -a "$LOG_DIR/times.txt"
  tail -5 "$LOG_DIR/$step.log"
done

if [ $demo_passed -eq 1 ]; then
  shot="$ROOT$SRC/out/demo/attnscope.png"
  if [ -s "$shot" ]; then
    cp "$shot" "$LOG_DIR/attnscope-trixie.png"
    echo "check-debian13: screenshot $LOG_DIR/attnscope-trixie.png"
  else
    echo "check-debian13: run-demo.sh passed but wrote no screenshot" >&2
    status=1
  fi
  in_root "dpkg-query -W libtorch-dev qt6-base-dev libqcustomplot-dev cmake g++" | tee -a "$LOG_DIR/times.txt"
fi
exit $status
