// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: any bytes as a .safetensors file (header length, JSON header, entries, data ranges). On
// success every tensor's bytes are read, as a loader would.
#include "fuzz_util.h"

#include "attnscope/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    attn::fuzz::MemoryFile file(data, size);
    auto opened = attn::SafetensorsFile::open(file.path());
    if (!opened)
        return 0;
    unsigned sum = 0;
    for (const attn::TensorInfo& info : (*opened)->tensors()) {
        const uint8_t* bytes = (*opened)->data(info);
        if (info.nbytes() > 0)
            sum += bytes[0] + bytes[info.nbytes() - 1];
        sum += static_cast<unsigned>(info.numel());
        if ((*opened)->find(info.name) != &info)
            __builtin_trap(); // names are unique once open() succeeded
    }
    attn::fuzz::consume(sum);
    return 0;
}
