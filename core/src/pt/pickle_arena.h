// SPDX-License-Identifier: GPL-3.0-or-later
// Ownership of the unpickled object graph. Values point at each other with raw pointers and the arena owns
// them all, so shared references (the pickle memo) and even cyclic ones cost nothing to free and never leak;
// the graph check in pt_graph.cpp refuses cycles before anything walks the graph recursively.
#pragma once

#include "attnscope/pt_checkpoint.h"

#include <deque>
#include <map>
#include <string>
#include <tuple>

namespace attn {

class PickleArena {
public:
    /// Caps on what one data.pkl may create (a value is ~250 bytes of memory).
    static constexpr std::size_t kMaxValues = std::size_t(1) << 23;

    /// A new value of `kind`, or null when kMaxValues is reached.
    PickleValue* make(PickleValue::Kind kind);
    std::size_t valueCount() const { return m_values.size(); }
    const PickleValue& value(std::size_t id) const { return m_values[id]; }

    /// One PtStorage per (key, dtype, numel): two tensors on one key share bytes, as in torch.
    PtStorage* storage(const std::string& key, PtScalarType dtype, int64_t numel, bool& created);
    /// In first-use order.
    const std::deque<PtStorage>& storages() const { return m_storages; }

private:
    std::deque<PickleValue> m_values; // deque: addresses stay valid as it grows
    std::deque<PtStorage> m_storages;
    std::map<std::tuple<std::string, PtScalarType, int64_t>, PtStorage*> m_storageIndex;
};

/// The one place that writes PickleValue's private fields.
class PickleBuilder {
public:
    static void setKind(PickleValue& v, PickleValue::Kind kind) { v.m_kind = kind; }
    static void setId(PickleValue& v, uint32_t id) { v.m_id = id; }
    static uint32_t id(const PickleValue& v) { return v.m_id; }
    static void setInt(PickleValue& v, int64_t value) { v.m_int = value; }
    static void setFloat(PickleValue& v, double value) { v.m_float = value; }
    static std::string& text(PickleValue& v) { return v.m_text; }
    static std::vector<const PickleValue*>& items(PickleValue& v) { return v.m_items; }
    static std::vector<PickleValue::Entry>& entries(PickleValue& v) { return v.m_entries; }
    static void setNames(PickleValue& v, std::string module, std::string name)
    {
        v.m_module = std::move(module);
        v.m_name = std::move(name);
    }
    static void setArgs(PickleValue& v, const PickleValue* args) { v.m_args = args; }
    static void setState(PickleValue& v, const PickleValue* state) { v.m_state = state; }
    static PtTensor& tensor(PickleValue& v) { return v.m_tensor; }
    static void setStorage(PickleValue& v, const PtStorage* storage) { v.m_storage = storage; }
};

} // namespace attn
