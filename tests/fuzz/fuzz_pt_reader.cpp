// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer entry point for the torch.save reader: any bytes must give a checkpoint or an error, never a
// crash, hang, leak or sanitizer report. On success it walks what a caller would: the RAM view, every
// tensor's float32 copy, and the state_dict listing.
#include "attnscope/pt_checkpoint.h"

#include <cstddef>
#include <cstdint>
#include <unordered_set>
#include <vector>

namespace {

// Visits each value once: shared references make a DAG whose paths can be exponentially many.
void touchTensors(const attn::PickleValue& value, int depth, std::unordered_set<const attn::PickleValue*>& seen)
{
    // The reader bounds nesting (and refuses cycles), so this recursion is safe on anything open() accepts.
    if (depth > 1100)
        __builtin_trap();
    if (!seen.insert(&value).second)
        return;
    if (value.is(attn::PickleValue::Kind::Tensor)) {
        const std::vector<float> copy = value.tensor().toFloat32();
        volatile float sink = copy.empty() ? 0.0f : copy.front() + copy.back();
        (void)sink;
        return;
    }
    for (const attn::PickleValue* item : value.items())
        touchTensors(*item, depth + 1, seen);
    for (const auto& [key, item] : value.entries()) {
        touchTensors(*key, depth + 1, seen);
        touchTensors(*item, depth + 1, seen);
    }
    if (value.args())
        touchTensors(*value.args(), depth + 1, seen);
    if (value.state())
        touchTensors(*value.state(), depth + 1, seen);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    std::vector<uint8_t> bytes(data, data + size);
    auto checkpoint = attn::PtCheckpoint::fromBytes(std::move(bytes), "fuzz.pt");
    if (!checkpoint)
        return 0;
    std::unordered_set<const attn::PickleValue*> seen;
    touchTensors((*checkpoint)->root(), 0, seen);
    if (const attn::PickleValue* model = (*checkpoint)->root().find("model"))
        (void)attn::listTensors(*model, "model");
    (void)attn::readRamCheckpoint(std::move(*checkpoint));
    return 0;
}
