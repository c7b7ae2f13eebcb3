// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: model.safetensors.index.json of a sharded Hugging Face folder.
#include "fuzz_util.h"

#include "hf/hf_index.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const std::string text(reinterpret_cast<const char*>(data), size);
    auto index = attn::hf::parseSafetensorsIndex(text, "model.safetensors.index.json");
    if (!index)
        return 0;
    for (const auto& [tensor, shard] : *index) {
        if (shard.empty() || shard.find('/') != std::string::npos)
            __builtin_trap(); // a shard must stay a file name inside the folder
        attn::fuzz::consume(tensor.size());
    }
    return 0;
}
