// SPDX-License-Identifier: GPL-3.0-or-later
#include "pt/pickle_arena.h"

namespace attn {

PickleValue* PickleArena::make(PickleValue::Kind kind)
{
    if (m_values.size() >= kMaxValues)
        return nullptr;
    m_values.emplace_back();
    PickleValue& value = m_values.back();
    PickleBuilder::setKind(value, kind);
    PickleBuilder::setId(value, static_cast<uint32_t>(m_values.size() - 1));
    return &value;
}

PtStorage* PickleArena::storage(const std::string& key, PtScalarType dtype, int64_t numel, bool& created)
{
    const auto index = std::make_tuple(key, dtype, numel);
    auto it = m_storageIndex.find(index);
    created = it == m_storageIndex.end();
    if (!created)
        return it->second;
    m_storages.emplace_back();
    PtStorage* storage = &m_storages.back();
    storage->key = key;
    storage->dtype = dtype;
    storage->numel = numel;
    m_storageIndex.emplace(index, storage);
    return storage;
}

} // namespace attn
