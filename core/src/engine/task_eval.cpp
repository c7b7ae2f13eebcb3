// SPDX-License-Identifier: GPL-3.0-or-later
// Per-split accuracy and the needle test's attention allocation per depth (DIFF paper Table 3), built on the
// public Model::capture API and the plain-C++ allocation maths (attnscope/allocation.h).
#include "attnscope/task_eval.h"

#include "attnscope/allocation.h"

#include <exception>

namespace attn {

Result<std::vector<SplitResult>> evaluateSplits(
    const std::string& modelDir, TaskKind task, const TaskOptions& options, int64_t samples, const DeviceSpec& device)
{
    std::vector<SplitResult> out;
    for (const TaskSplit& split : taskSplits(task, options)) {
        if (Status s = validateTaskOptions(task, split.options); !s)
            return Status::error("split " + split.name + ": " + s.message());
        auto result = evaluate(modelDir, task, split.options, samples, device);
        if (!result)
            return Status::error("split " + split.name + ": " + result.message());
        out.push_back({split.name, split.options, *result});
    }
    return out;
}

namespace {

/// Token layout of one needle sample for captureAllocation, and the tokens to capture (prompt + answer
/// teacher-forced, without the last answer token, whose row predicts nothing of the answer).
Result<std::pair<std::vector<int64_t>, AllocationLayout>> needleLayout(
    const Tokenizer& tokenizer, const TaskSample& sample)
{
    const std::string prompt = promptText(sample);
    std::vector<int64_t> tokens = tokenizer.encode(prompt);
    const int64_t words = countWords(prompt);
    const int64_t offset = static_cast<int64_t>(tokens.size()) - words;
    const bool bos = offset == 1 && tokenizer.bosId() && tokens.front() == *tokenizer.bosId();
    if (offset != 0 && !bos)
        return Status::error("the attention allocation needs a word tokenizer (one token per word): the prompt has "
            + std::to_string(words) + " words but " + std::to_string(tokens.size()) + " tokens");
    if (sample.answerSpans.empty())
        return Status::error("the needle sample has no answer span");
    auto span = wordRange(prompt, sample.answerSpans.front().first, sample.answerSpans.front().second);
    if (!span)
        return span.status();
    const std::vector<int64_t> answer = tokenizer.encodeContinuation(sample.answer);
    if (answer.empty())
        return Status::error("the needle sample has an empty answer");

    AllocationLayout layout;
    layout.firstTokenIsBos = bos;
    layout.spanBegin = span->first + offset;
    layout.spanEnd = span->second + offset;
    layout.noiseEnd = countWords(sample.context) + offset;
    const auto promptLen = static_cast<int64_t>(tokens.size());
    for (size_t i = 0; i < answer.size(); ++i)
        layout.queryRows.push_back(promptLen - 1 + static_cast<int64_t>(i));
    tokens.insert(tokens.end(), answer.begin(), answer.end() - 1);
    return std::make_pair(std::move(tokens), std::move(layout));
}

} // namespace

Result<std::vector<DepthAllocation>> needleAllocation(const std::string& modelDir, const TaskOptions& options,
    int64_t samples, const std::vector<int>& depths, const DeviceSpec& device)
{
    const std::string what = "attention allocation of " + modelDir + ": ";
    if (samples <= 0)
        return Status::error(what + "the number of samples per depth must be positive");
    try {
        auto model = Model::load(modelDir, LoadOptions {device, ComputeDType::F32});
        if (!model)
            return model.status();
        const ModelConfig& config = (*model)->config();
        CaptureRequest request;
        // The attention each head uses: A for softmax (with or without CoPE), DN = D / (1 - lambda) for DIFF.
        request.kinds = {config.isDiff() ? MapKind::DN : MapKind::A};
        for (int64_t l = 0; l < config.nLayers; ++l)
            for (int64_t h = 0; h < config.nHeads; ++h)
                request.heads.push_back({l, h});

        std::vector<DepthAllocation> out;
        for (int depth : depths) {
            TaskOptions o = options;
            o.depthPercent = depth;
            if (Status s = validateTaskOptions(TaskKind::Needles, o); !s)
                return Status::error(what + s.message());
            DepthAllocation row;
            row.depthPercent = depth;
            auto accuracy = evaluate(modelDir, TaskKind::Needles, o, samples, device);
            if (!accuracy)
                return accuracy.status();
            row.result = *accuracy;
            auto generator = TaskGenerator::create(TaskKind::Needles, o); // the same samples evaluate() scored
            if (!generator)
                return Status::error(what + generator.message());
            SpanAttention sum {0.0, 0.0, 0.0, 0.0, 0};
            for (int64_t i = 0; i < samples; ++i) {
                auto layout = needleLayout((*model)->tokenizer(), generator->next());
                if (!layout)
                    return Status::error(what + layout.message());
                if (static_cast<int64_t>(layout->first.size()) > config.maxSeqLen)
                    return Status::error(what + "a prompt with its answer has " + std::to_string(layout->first.size())
                        + " tokens, more than max_seq_len = " + std::to_string(config.maxSeqLen)
                        + "; use fewer --context-words");
                request.tokens = layout->first;
                auto capture = (*model)->capture(request);
                if (!capture)
                    return Status::error(what + capture.message());
                auto a = captureAllocation(*capture, layout->second);
                if (!a)
                    return Status::error(what + a.message());
                sum.toSpan += a->toSpan;
                sum.noise += a->noise;
                sum.sink += a->sink;
                sum.rest += a->rest;
                sum.rows += static_cast<int64_t>(layout->second.queryRows.size());
            }
            const auto n = static_cast<double>(samples);
            row.attention = {sum.toSpan / n, sum.noise / n, sum.sink / n, sum.rest / n, sum.rows};
            out.push_back(row);
        }
        return out;
    } catch (const std::exception& e) {
        return Status::error(what + e.what());
    }
}

} // namespace attn
