// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer entry point for the pickle VM alone: the input becomes data.pkl of a valid stored archive with a
// few storage records ("0".."3"), so mutations exercise the unpickler instead of dying in the zip layer.
// Seed it with data.pkl files extracted from tests/data/pt/*.pt.
#include "test_pt_zip.h"

#include "attnscope/pt_checkpoint.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_set>

namespace {

void touch(const attn::PickleValue& value, std::unordered_set<const attn::PickleValue*>& seen)
{
    if (!seen.insert(&value).second)
        return;
    if (value.is(attn::PickleValue::Kind::Tensor)) {
        volatile std::size_t sink = value.tensor().toFloat32().size();
        (void)sink;
    }
    for (const attn::PickleValue* item : value.items())
        touch(*item, seen);
    for (const auto& [key, item] : value.entries()) {
        touch(*key, seen);
        touch(*item, seen);
    }
    if (value.args())
        touch(*value.args(), seen);
    if (value.state())
        touch(*value.state(), seen);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const std::string pickle(reinterpret_cast<const char*>(data), size);
    std::vector<std::pair<std::string, std::string>> records;
    for (int key = 0; key < 4; ++key)
        records.emplace_back(std::to_string(key), std::string(64 << key, '\x3f'));
    auto checkpoint = attn::PtCheckpoint::fromBytes(attn::test::makeCheckpoint(pickle, records), "fuzz.pt");
    if (!checkpoint)
        return 0;
    std::unordered_set<const attn::PickleValue*> seen;
    touch((*checkpoint)->root(), seen);
    (void)attn::readRamCheckpoint(std::move(*checkpoint));
    return 0;
}
