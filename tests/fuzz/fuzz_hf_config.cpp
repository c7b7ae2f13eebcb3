// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: a Hugging Face config.json, parsed as openModelSource does and translated to the engine's
// config (families, RoPE scaling, sliding windows, ...). An accepted config must give overflow-free sizes.
#include "fuzz_util.h"

#include "attnscope/model_format.h"
#include "hf/hf_config.h"
#include "json_limits.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    nlohmann::json root;
    attn::detail::JsonLimits limits;
    limits.rejectDuplicateKeys = false;
    if (!attn::detail::parseUntrustedJson(text, limits, root))
        return 0;
    auto translated = attn::hf::translateConfig(root, "config.json");
    if (!translated)
        return 0;
    attn::fuzz::consume(attn::parameterCount(translated->config));
    attn::fuzz::consume(attn::expectedTensors(translated->config).size());
    return 0;
}
