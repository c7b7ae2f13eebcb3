// SPDX-License-Identifier: GPL-3.0-or-later
#include "pt/pt_graph.h"

#include <limits>
#include <vector>

namespace attn {

namespace {

using Kind = PickleValue::Kind;

std::size_t childCount(const PickleValue& v)
{
    return v.items().size() + 2 * v.entries().size() + 2;
}

// The i-th child (items, then dict keys and values, then args and state), or null.
const PickleValue* child(const PickleValue& v, std::size_t i)
{
    if (i < v.items().size())
        return v.items()[i];
    i -= v.items().size();
    if (i < 2 * v.entries().size())
        return i % 2 ? v.entries()[i / 2].second : v.entries()[i / 2].first;
    i -= 2 * v.entries().size();
    return i == 0 ? v.args() : v.state();
}

std::string shortKey(const std::string& key)
{
    return key.size() <= 80 ? key : key.substr(0, 80) + "...";
}

// How the i-th child is reached from its parent, Python-style.
std::string childLabel(const PickleValue& v, std::size_t i)
{
    if (i < v.items().size())
        return "[" + std::to_string(i) + "]";
    i -= v.items().size();
    if (i < 2 * v.entries().size()) {
        const PickleValue& key = *v.entries()[i / 2].first;
        std::string keyText = key.is(Kind::String) ? "'" + shortKey(key.asString()) + "'"
            : key.is(Kind::Int)                    ? std::to_string(key.asInt())
                                                   : "<" + key.typeName() + ">";
        return i % 2 ? "[" + keyText + "]" : ".keys(" + keyText + ")";
    }
    i -= 2 * v.entries().size();
    return i == 0 ? ".args" : ".state";
}

struct Frame {
    const PickleValue* value;
    std::size_t next; // index of the next child to visit
};

std::string pathOf(const std::vector<Frame>& frames)
{
    std::string path = "root";
    for (std::size_t f = 0; f + 1 < frames.size(); ++f)
        path += childLabel(*frames[f].value, frames[f].next - 1);
    return path.size() <= 300 ? path : path.substr(0, 300) + "...";
}

// The innermost string dict key on the path, which is the tensor's state_dict name.
std::string nameOf(const std::vector<Frame>& frames)
{
    for (std::size_t f = frames.size() - 1; f-- > 0;) {
        const PickleValue& parent = *frames[f].value;
        std::size_t i = frames[f].next - 1;
        if (i >= parent.items().size()) {
            i -= parent.items().size();
            if (i < 2 * parent.entries().size() && i % 2 == 1 && parent.entries()[i / 2].first->is(Kind::String))
                return shortKey(parent.entries()[i / 2].first->asString());
        }
    }
    return pathOf(frames);
}

// Element count the view spans in its storage: last index + 1, or 0 for an empty tensor. False on overflow.
bool viewExtent(const PtTensor& t, uint64_t& out)
{
    uint64_t last = static_cast<uint64_t>(t.storageOffset);
    for (std::size_t d = 0; d < t.shape.size(); ++d) {
        if (t.shape[d] == 0) {
            out = static_cast<uint64_t>(t.storageOffset);
            return true;
        }
    }
    for (std::size_t d = 0; d < t.shape.size(); ++d) {
        uint64_t span = 0;
        if (__builtin_mul_overflow(static_cast<uint64_t>(t.shape[d] - 1), static_cast<uint64_t>(t.stride[d]), &span)
            || __builtin_add_overflow(last, span, &last))
            return false;
    }
    return !__builtin_add_overflow(last, uint64_t(1), &out);
}

} // namespace

Status checkGraph(const PickleArena& arena, const PickleValue& root, const std::string& where, uint64_t fileSize)
{
    enum : uint8_t { kWhite, kGrey, kBlack };
    std::vector<uint8_t> colour(arena.valueCount(), kWhite);
    std::vector<Frame> frames;
    auto enter = [&](const PickleValue* value) -> Status {
        colour[PickleBuilder::id(*value)] = kGrey;
        frames.push_back({value, 0});
        if (frames.size() > kMaxPickleDepth)
            return Status::error(where + ": values nest deeper than " + std::to_string(kMaxPickleDepth) + " levels");
        if (!value->is(Kind::Tensor))
            return Status::ok();
        const PtTensor& t = value->tensor();
        const std::size_t item = ptScalarSize(t.dtype);
        uint64_t extent = 0;
        uint64_t needed = 0;
        if (!viewExtent(t, extent) || __builtin_mul_overflow(extent, static_cast<uint64_t>(item), &needed))
            return Status::error(where + ": tensor '" + nameOf(frames) + "' at " + pathOf(frames)
                + ": its size and stride overflow 64 bits");
        // A view with more elements than its storage (stride 0, as from expand()) is legal in torch, but a dense
        // copy of it must stay within what the file holds, or a few bytes could demand gigabytes.
        uint64_t dense = static_cast<uint64_t>(item);
        for (int64_t dim : t.shape) {
            if (__builtin_mul_overflow(dense, static_cast<uint64_t>(dim), &dense))
                dense = std::numeric_limits<uint64_t>::max();
        }
        if (dense > fileSize && dense > t.storage->nbytes) {
            return Status::error(where + ": tensor '" + nameOf(frames) + "' at " + pathOf(frames)
                + ": a dense copy takes " + std::to_string(dense) + " bytes, more than the whole file ("
                + std::to_string(fileSize) + ")");
        }
        if (needed > t.storage->nbytes) {
            return Status::error(where + ": tensor '" + nameOf(frames) + "' at " + pathOf(frames) + ": storage '"
                + shortKey(t.storage->key) + "' holds " + std::to_string(t.storage->nbytes)
                + " bytes but the view needs " + std::to_string(needed));
        }
        return Status::ok();
    };
    Status status = enter(&root);
    if (!status)
        return status;
    while (!frames.empty()) {
        Frame& top = frames.back();
        if (top.next == childCount(*top.value)) {
            colour[PickleBuilder::id(*top.value)] = kBlack;
            frames.pop_back();
            continue;
        }
        const PickleValue* next = child(*top.value, top.next++);
        if (!next)
            continue;
        const uint8_t c = colour[PickleBuilder::id(*next)];
        if (c == kGrey) {
            frames.push_back({next, 0});
            return Status::error(where + ": the value at " + pathOf(frames)
                + " contains itself (a reference cycle); checkpoints never do");
        }
        if (c == kWhite) {
            status = enter(next);
            if (!status)
                return status;
        }
    }
    return Status::ok();
}

} // namespace attn
