// SPDX-License-Identifier: GPL-3.0-or-later
#include "engine/trainer_data.h"

#include "engine/transformer.h"

#include <ATen/core/grad_mode.h> // at::NoGradGuard: ATen/ATen.h no longer brings it in LibTorch 2.x

#include <algorithm>

namespace attn::engine {

EncodedSample encodeSample(const Tokenizer& tokenizer, const TaskSample& sample, int64_t maxSeqLen, bool withEos)
{
    std::vector<int64_t> seq = tokenizer.encode(promptText(sample));
    const std::vector<int64_t> answer = tokenizer.encodeContinuation(sample.answer);
    const int64_t promptLen = static_cast<int64_t>(seq.size());
    seq.insert(seq.end(), answer.begin(), answer.end());
    if (withEos && tokenizer.eosId())
        seq.push_back(*tokenizer.eosId());
    // Keep the last maxSeqLen + 1 tokens: the input (seq[:-1]) then has at most maxSeqLen.
    int64_t drop = std::max<int64_t>(0, static_cast<int64_t>(seq.size()) - (maxSeqLen + 1));
    EncodedSample out;
    out.input.assign(seq.begin() + drop, seq.end() - 1);
    out.target.assign(seq.begin() + drop + 1, seq.end());
    // The first answer token seq[promptLen] is predicted at target index promptLen - 1.
    out.answerBegin = std::max<int64_t>(0, promptLen - 1 - drop);
    return out;
}

Batch makeBatch(const std::vector<EncodedSample>& samples, int64_t padId, const at::Device& device)
{
    const int64_t b = static_cast<int64_t>(samples.size());
    int64_t t = 1;
    for (const EncodedSample& s : samples)
        t = std::max<int64_t>(t, static_cast<int64_t>(s.input.size()));
    std::vector<int64_t> input(static_cast<size_t>(b * t), padId);
    std::vector<int64_t> target(static_cast<size_t>(b * t), 0);
    std::vector<float> mask(static_cast<size_t>(b * t), 0.0f);
    Batch batch;
    for (int64_t i = 0; i < b; ++i) {
        const EncodedSample& s = samples[static_cast<size_t>(i)];
        const int64_t n = static_cast<int64_t>(s.input.size());
        batch.realTokens += n;
        for (int64_t j = 0; j < n; ++j) {
            const size_t k = static_cast<size_t>(i * t + j);
            input[k] = s.input[static_cast<size_t>(j)];
            target[k] = s.target[static_cast<size_t>(j)];
            mask[k] = j >= s.answerBegin ? 1.0f : 0.0f;
        }
    }
    const auto longs = at::TensorOptions().dtype(at::kLong);
    batch.input = at::tensor(input, longs).view({b, t}).to(device);
    batch.target = at::tensor(target, longs).view({b, t}).to(device);
    batch.mask = at::tensor(mask, at::TensorOptions().dtype(at::kFloat)).view({b, t}).to(device);
    return batch;
}

at::Tensor maskedLoss(const at::Tensor& logits, const Batch& batch)
{
    // log_softmax + gather rather than at::cross_entropy_loss: its signature differs between 1.13 and 2.x.
    const at::Tensor logp = at::log_softmax(logits, -1);
    const at::Tensor nll = -logp.gather(2, batch.target.unsqueeze(-1)).squeeze(-1);
    return (nll * batch.mask).sum() / batch.mask.sum().clamp_min(1.0);
}

EvalResult evaluateWeights(const ModelWeights& weights, const ModelConfig& config, const Tokenizer& tokenizer,
    TaskGenerator& generator, int64_t samples, const at::Device& device)
{
    at::NoGradGuard noGrad;
    const int64_t padId = 0; // taskVocabulary() puts <pad> first
    const int64_t chunk = 64;
    int64_t exact = 0, tokensRight = 0, tokensTotal = 0;
    for (int64_t done = 0; done < samples; done += chunk) {
        std::vector<EncodedSample> encoded;
        for (int64_t i = done; i < std::min(samples, done + chunk); ++i)
            encoded.push_back(encodeSample(tokenizer, generator.next(), config.maxSeqLen, /*withEos=*/false));
        const Batch batch = makeBatch(encoded, padId, device);
        const at::Tensor predicted
            = forward(weights, config, batch.input, nullptr, RunControl {}, /*allPositions=*/true).argmax(-1);
        const at::Tensor right = predicted.eq(batch.target).to(at::kFloat) * batch.mask;
        const at::Tensor perSample = right.sum(1);
        const at::Tensor answerLen = batch.mask.sum(1);
        exact += perSample.eq(answerLen).sum().item<int64_t>();
        tokensRight += static_cast<int64_t>(right.sum().item<double>());
        tokensTotal += static_cast<int64_t>(batch.mask.sum().item<double>());
    }
    EvalResult result;
    result.samples = samples;
    result.accuracy = samples > 0 ? static_cast<double>(exact) / static_cast<double>(samples) : 0.0;
    result.tokenAccuracy = tokensTotal > 0 ? static_cast<double>(tokensRight) / static_cast<double>(tokensTotal) : 0.0;
    return result;
}

} // namespace attn::engine
