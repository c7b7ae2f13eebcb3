// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: attnscope's own config.json. A config that parses must validate, round-trip through
// configToJson, and give a tensor list whose sizes do not overflow.
#include "fuzz_util.h"

#include "attnscope/config.h"
#include "attnscope/model_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const std::string text(reinterpret_cast<const char*>(data), size);
    auto config = attn::parseConfig(text);
    if (!config)
        return 0;
    auto again = attn::parseConfig(attn::configToJson(*config));
    if (!again)
        __builtin_trap(); // what we write must read back
    attn::fuzz::consume(attn::parameterCount(*config));
    attn::fuzz::consume(attn::expectedTensors(*config).size());
    return 0;
}
