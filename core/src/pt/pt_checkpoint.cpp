// SPDX-License-Identifier: GPL-3.0-or-later
#include "attnscope/pt_checkpoint.h"

#include "pt/pickle_arena.h"
#include "pt/pt_archive.h"
#include "pt/pt_globals.h"
#include "pt/pt_graph.h"
#include "pt/pt_scalar.h"
#include "pt/unpickler.h"

#include <algorithm>
#include <exception>
#include <map>

namespace attn {

// ---- PickleValue ----

std::string PickleValue::typeName() const
{
    switch (m_kind) {
    case Kind::None:
        return "none";
    case Kind::Bool:
        return "bool";
    case Kind::Int:
        return "int";
    case Kind::Float:
        return "float";
    case Kind::String:
        return "string";
    case Kind::Bytes:
        return "bytes";
    case Kind::List:
        return "list";
    case Kind::Tuple:
        return "tuple";
    case Kind::Dict:
        return "dict";
    case Kind::Global:
    case Kind::Object:
        return m_module + "." + m_name;
    case Kind::Storage:
        return "storage";
    case Kind::Tensor:
        return "tensor";
    }
    return "?";
}

const PickleValue* PickleValue::find(const std::string& key) const
{
    // Dicts, and objects of dict subclasses (their SETITEMS are recorded as entries).
    for (const Entry& entry : m_entries) {
        if (entry.first->is(Kind::String) && entry.first->asString() == key)
            return entry.second;
    }
    return nullptr;
}

const PickleValue* PickleValue::attr(const std::string& name) const
{
    if ((m_kind != Kind::Object && m_kind != Kind::Dict) || !m_state)
        return nullptr;
    if (m_state->is(Kind::Dict))
        return m_state->find(name);
    // Classes with __slots__ pickle their state as (dict or None, slot dict).
    if (m_state->is(Kind::Tuple) && m_state->items().size() == 2) {
        for (const PickleValue* part : m_state->items()) {
            if (part->is(Kind::Dict)) {
                if (const PickleValue* found = part->find(name))
                    return found;
            }
        }
    }
    return nullptr;
}

bool PickleValue::isObjectOf(const std::string& module, const std::string& name) const
{
    return m_kind == Kind::Object && m_module == module && m_name == name;
}

// ---- PtTensor ----

int64_t PtTensor::numel() const
{
    int64_t count = 1;
    for (int64_t dim : shape)
        count *= dim; // cannot overflow: the graph check bounded the view by its storage
    return count;
}

bool PtTensor::isContiguous() const
{
    int64_t expected = 1;
    for (std::size_t d = shape.size(); d-- > 0;) {
        if (shape[d] != 1 && stride[d] != expected)
            return false;
        expected *= shape[d];
    }
    return true;
}

const uint8_t* PtTensor::data() const
{
    return storage->data + static_cast<uint64_t>(storageOffset) * ptScalarSize(dtype);
}

std::vector<float> PtTensor::toFloat32() const
{
    const int64_t count = numel();
    std::vector<float> out(static_cast<std::size_t>(count));
    if (count == 0)
        return out;
    const std::size_t item = ptScalarSize(dtype);
    const uint8_t* base = data();
    if (isContiguous()) {
        for (int64_t i = 0; i < count; ++i)
            out[static_cast<std::size_t>(i)] = detail::elementToFloat(dtype, base + static_cast<uint64_t>(i) * item);
        return out;
    }
    // Odometer over the C-order index; `offset` is the element offset of the current index.
    std::vector<int64_t> index(shape.size(), 0);
    uint64_t offset = 0;
    for (int64_t i = 0; i < count; ++i) {
        out[static_cast<std::size_t>(i)] = detail::elementToFloat(dtype, base + offset * item);
        for (std::size_t d = shape.size(); d-- > 0;) {
            if (++index[d] < shape[d]) {
                offset += static_cast<uint64_t>(stride[d]);
                break;
            }
            offset -= static_cast<uint64_t>(stride[d]) * static_cast<uint64_t>(shape[d] - 1);
            index[d] = 0;
        }
    }
    return out;
}

// ---- PtCheckpoint ----

PtCheckpoint::~PtCheckpoint() = default;

const std::string& PtCheckpoint::archivePrefix() const
{
    return m_archive->prefix();
}

uint64_t PtCheckpoint::fileSize() const
{
    return m_archive->fileSize();
}

std::vector<const PtStorage*> PtCheckpoint::storages() const
{
    std::vector<const PtStorage*> out;
    for (const PtStorage& storage : m_arena->storages())
        out.push_back(&storage);
    return out;
}

Result<std::unique_ptr<PtCheckpoint>> PtCheckpoint::open(const std::string& path)
{
    try {
        Result<std::unique_ptr<PtArchive>> archive = PtArchive::openFile(path);
        if (!archive)
            return archive.status();
        std::unique_ptr<PtCheckpoint> checkpoint(new PtCheckpoint());
        checkpoint->m_path = path;
        checkpoint->m_archive = std::move(*archive);
        return finish(std::move(checkpoint));
    } catch (const std::bad_alloc&) {
        return Status::error(path + ": out of memory while reading the checkpoint");
    } catch (const std::exception& e) {
        return Status::error(path + ": " + e.what());
    }
}

Result<std::unique_ptr<PtCheckpoint>> PtCheckpoint::fromBytes(
    std::vector<uint8_t> bytes, const std::string& displayName)
{
    try {
        Result<std::unique_ptr<PtArchive>> archive = PtArchive::fromBytes(std::move(bytes), displayName);
        if (!archive)
            return archive.status();
        std::unique_ptr<PtCheckpoint> checkpoint(new PtCheckpoint());
        checkpoint->m_path = displayName;
        checkpoint->m_archive = std::move(*archive);
        return finish(std::move(checkpoint));
    } catch (const std::bad_alloc&) {
        return Status::error(displayName + ": out of memory while reading the checkpoint");
    } catch (const std::exception& e) {
        return Status::error(displayName + ": " + e.what());
    }
}

Result<std::unique_ptr<PtCheckpoint>> PtCheckpoint::finish(std::unique_ptr<PtCheckpoint> checkpoint)
{
    const PtArchive& archive = *checkpoint->m_archive;
    const std::string& name = checkpoint->m_path;
    if (archive.has("byteorder")) {
        Result<PtRecord> order = archive.record("byteorder");
        if (!order)
            return order.status();
        const std::string text(reinterpret_cast<const char*>(order->data), std::min<uint64_t>(order->size, 16));
        if (text != "little")
            return Status::error(name + ": byteorder is \"" + text + "\"; only little-endian checkpoints are read");
    }
    Result<PtRecord> pickle = archive.record("data.pkl");
    if (!pickle)
        return pickle.status();

    checkpoint->m_arena = std::make_unique<PickleArena>();
    PickleArena& arena = *checkpoint->m_arena;
    uint64_t storedBytes = 0;
    std::map<std::string, bool> seenKeys;
    const StorageResolver resolve = [&](const std::string& key, PtScalarType dtype, const std::string& location,
                                        int64_t numel) -> Result<const PtStorage*> {
        bool created = false;
        PtStorage* storage = arena.storage(key, dtype, numel, created);
        if (!created)
            return storage;
        const std::string shownKey = key.size() <= 40 ? key : key.substr(0, 40) + "...";
        Result<PtRecord> record = archive.record("data/" + key);
        if (!record)
            return Status::error("storage '" + shownKey + "' has no record data/" + shownKey + " in the archive");
        uint64_t nbytes = 0;
        if (__builtin_mul_overflow(static_cast<uint64_t>(numel), ptScalarSize(dtype), &nbytes) || nbytes > record->size)
            return Status::error("storage '" + shownKey + "' declares " + std::to_string(numel) + " elements of "
                + ptScalarName(dtype) + " but its record holds " + std::to_string(record->size) + " bytes");
        // Distinct records must fit in the file together: overlapping zip entries would let one byte range
        // count many times.
        if (seenKeys.emplace(key, true).second) {
            storedBytes += record->size;
            if (storedBytes > archive.fileSize() + (4ull << 30))
                return Status::error("storage records add up to more bytes than the file holds");
        }
        storage->location = location;
        storage->data = record->data;
        storage->nbytes = nbytes;
        return storage;
    };
    const std::string where = name + ": data.pkl";
    Result<PickleValue*> root = unpickle(pickle->data, pickle->size, where, arena, resolve);
    if (!root)
        return root.status();
    Status graph = checkGraph(arena, **root, where, archive.fileSize());
    if (!graph)
        return graph;
    checkpoint->m_root = *root;
    return checkpoint;
}

namespace {

std::string shortName(const std::string& name)
{
    return name.size() <= 80 ? name : name.substr(0, 80) + "...";
}

} // namespace

Result<std::vector<PtNamedTensor>> listTensors(const PickleValue& dict, const std::string& what)
{
    if (!dict.is(PickleValue::Kind::Dict))
        return Status::error(what + " is " + describeValue(dict) + ", not a dict of tensors");
    std::vector<PtNamedTensor> out;
    for (const auto& [key, value] : dict.entries()) {
        if (!key->is(PickleValue::Kind::String))
            return Status::error(what + ": a key is " + describeValue(*key) + ", not a string");
        if (!value->is(PickleValue::Kind::Tensor))
            return Status::error(
                what + "['" + shortName(key->asString()) + "'] is " + describeValue(*value) + ", not a tensor");
        out.push_back({key->asString(), &value->tensor()});
    }
    return out;
}

} // namespace attn
