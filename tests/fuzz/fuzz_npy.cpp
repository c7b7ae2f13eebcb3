// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: .npy files (magic, version, header dict, shape, data size).
#include "fuzz_util.h"

#include "attnscope/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    auto array = attn::parseNpyFloat32(bytes, "fuzz.npy");
    if (!array)
        return 0;
    uint64_t count = 1;
    for (int64_t dim : array->shape)
        count *= static_cast<uint64_t>(dim);
    if (count != array->values.size())
        __builtin_trap();
    return 0;
}
