// SPDX-License-Identifier: GPL-3.0-or-later
// A head switch on a kept prompt: the layer's queries and keys were kept by the pass that computed them, so a head's
// maps are its score tiles alone (no projection, no RoPE), through the same tile code as that pass.
#include "engine/layer.h"

#include <algorithm>

namespace attn::engine {

int64_t KeptScores::bytes() const
{
    int64_t total = 0;
    std::vector<const void*> seen;
    for (const at::Tensor* t : {&q, &k, &copeKey, &copeQuery}) {
        if (!t->defined())
            continue;
        const void* storage = t->storage().data();
        if (std::find(seen.begin(), seen.end(), storage) != seen.end())
            continue; // copeQuery is q itself unless CoPE reads the unrotated query
        seen.push_back(storage);
        total += static_cast<int64_t>(t->storage().nbytes());
    }
    return total;
}

ModelConfig configForChosenHeads(const ModelConfig& config, size_t headCount)
{
    ModelConfig chosen = config;
    chosen.nHeads = chosen.nKvHeads = static_cast<int64_t>(headCount);
    return chosen;
}

void captureFromKeptScores(const KeptScores& kept, const LayerWeights& stored, const ModelConfig& config, int64_t layer,
    const std::vector<int64_t>& heads, const AttentionContext& ctx, LayerCapture& capture)
{
    // The query (sub-)heads of the chosen heads and the kv (sub-)heads each reads: the GQA expansion of the pass,
    // restricted to them.
    std::vector<int64_t> queryIndex, keyIndex;
    if (config.isDiff()) {
        const std::vector<int64_t> keys = diffKeySubHeadIndex(config.nHeads, config.nKvHeads, config.gqa);
        for (int64_t head : heads)
            for (int64_t g = 0; g < 2; ++g) {
                queryIndex.push_back(2 * head + g);
                keyIndex.push_back(keys[static_cast<size_t>(2 * head + g)]);
            }
    } else {
        const int64_t nRep = config.nHeads / config.nKvHeads;
        for (int64_t head : heads) {
            queryIndex.push_back(head);
            keyIndex.push_back(head / nRep);
        }
    }
    const at::Tensor queries = at::tensor(queryIndex, at::TensorOptions().dtype(at::kLong)).to(kept.q.device());
    const at::Tensor keys = at::tensor(keyIndex, at::TensorOptions().dtype(at::kLong)).to(kept.q.device());
    ScoreInputs in;
    in.q = kept.q.index_select(1, queries);
    in.k = kept.k.index_select(1, keys);
    if (kept.copeKey.defined())
        in.copeKey = kept.copeKey.index_select(1, keys);
    in.copeQuery = kept.copeQuery.index_select(1, queries);

    const ModelConfig chosen = configForChosenHeads(config, heads.size());
    const at::ScalarType dtype = kept.q.scalar_type();
    at::Tensor lambdaFull;
    double lambda = 0.0;
    if (config.isDiff()) {
        lambdaFull = diffLambda(stored, layer).to(dtype); // as the pass computed it: fp32, cast to q's dtype
        lambda = lambdaFull.item<double>();
        capture.lambda = lambda;
    }
    forEachQueryTile(in.q.size(2), ctx, [&](int64_t q0, int64_t q1) {
        if (config.isDiff())
            diffTile(in, stored, chosen, layer, q0, q1, dtype, lambdaFull, lambda, &capture);
        else
            softmaxTile(in, stored, chosen, layer, q0, q1, dtype, &capture);
    });
}

} // namespace attn::engine
