// SPDX-License-Identifier: GPL-3.0-or-later
#include "pt/pt_globals.h"

#include <cstdio>

namespace attn {

namespace {

using Kind = PickleValue::Kind;
using B = PickleBuilder;

constexpr std::size_t kMaxRank = 64;

bool isGlobal(const PickleValue& value, const char* module, const char* name)
{
    return value.module() == module && value.name() == name;
}

std::string shortText(const std::string& text)
{
    constexpr std::size_t kMax = 40;
    return text.size() <= kMax ? text : text.substr(0, kMax) + "...";
}

Result<PickleValue*> inertObject(PickleArena& arena, const PickleValue& callable, const PickleValue& args)
{
    PickleValue* object = arena.make(Kind::Object);
    if (!object)
        return Status::error("creates more than " + std::to_string(PickleArena::kMaxValues) + " values");
    B::setNames(*object, callable.module(), callable.name());
    B::setArgs(*object, &args);
    return object;
}

Result<PickleValue*> make(PickleArena& arena, Kind kind)
{
    PickleValue* value = arena.make(kind);
    if (!value)
        return Status::error("creates more than " + std::to_string(PickleArena::kMaxValues) + " values");
    return value;
}

// A tuple of non-negative ints (a size or stride).
bool readDims(const PickleValue& value, std::vector<int64_t>& out)
{
    if (!value.is(Kind::Tuple) || value.items().size() > kMaxRank)
        return false;
    out.clear();
    for (const PickleValue* dim : value.items()) {
        if (!dim->is(Kind::Int) || dim->asInt() < 0)
            return false;
        out.push_back(dim->asInt());
    }
    return true;
}

std::optional<PtScalarType> dtypeGlobalType(const PickleValue& value);

// torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
// and the older _rebuild_tensor(storage, storage_offset, size, stride). Whether the view fits its storage is
// checked after unpickling, where the tensor's name is known (pt_graph.cpp).
Result<PickleValue*> rebuildTensor(PickleArena& arena, const PickleValue& callable, const PickleValue& args)
{
    const auto& a = args.items();
    const std::string what = callable.module() + "." + callable.name();
    if (a.size() < 4)
        return Status::error(what + " needs at least 4 arguments, got " + std::to_string(a.size()));
    if (!a[0]->is(Kind::Storage))
        return Status::error(what + ": the storage argument is " + describeValue(*a[0]));
    if (!a[1]->is(Kind::Int) || a[1]->asInt() < 0)
        return Status::error(what + ": the storage offset is " + describeValue(*a[1]));
    Result<PickleValue*> tensor = make(arena, Kind::Tensor);
    if (!tensor)
        return tensor;
    PtTensor& t = B::tensor(**tensor);
    if (!readDims(*a[2], t.shape))
        return Status::error(what + ": the size is " + describeValue(*a[2]) + ", not a tuple of at most "
            + std::to_string(kMaxRank) + " non-negative ints");
    if (!readDims(*a[3], t.stride))
        return Status::error(what + ": the stride is " + describeValue(*a[3]) + ", not a tuple of at most "
            + std::to_string(kMaxRank) + " non-negative ints");
    if (t.shape.size() != t.stride.size())
        return Status::error(what + ": size has " + std::to_string(t.shape.size()) + " dimensions, stride "
            + std::to_string(t.stride.size()));
    t.storage = &a[0]->storage();
    t.dtype = t.storage->dtype;
    t.storageOffset = a[1]->asInt();
    t.requiresGrad = a.size() > 4 && a[4]->is(Kind::Bool) && a[4]->asBool();
    // _rebuild_tensor_v3(storage, offset, size, stride, requires_grad, hooks, dtype[, metadata]): torch writes it
    // for dtypes that have no legacy <T>Storage class, over an UntypedStorage; offset and stride count elements
    // of `dtype`.
    if (callable.name() == "_rebuild_tensor_v3") {
        const std::optional<PtScalarType> dtype = a.size() > 6 ? dtypeGlobalType(*a[6]) : std::nullopt;
        if (!dtype)
            return Status::error(what + ": tensor dtype "
                + (a.size() > 6 ? describeValue(*a[6]) : std::string("missing"))
                + " is not supported (supported: float64, float32, float16, bfloat16, int64, int32, int16, int8, "
                  "uint8, bool)");
        t.dtype = *dtype;
    }
    return tensor;
}

// The dtype global of _rebuild_tensor_v3 (torch.float32, torch.half, ...).
std::optional<PtScalarType> dtypeGlobalType(const PickleValue& value)
{
    if (!value.is(Kind::Global) || value.module() != "torch")
        return std::nullopt;
    static const std::pair<const char*, PtScalarType> kNames[] = {
        {"float64", PtScalarType::F64},
        {"double", PtScalarType::F64},
        {"float32", PtScalarType::F32},
        {"float", PtScalarType::F32},
        {"float16", PtScalarType::F16},
        {"half", PtScalarType::F16},
        {"bfloat16", PtScalarType::BF16},
        {"int64", PtScalarType::I64},
        {"long", PtScalarType::I64},
        {"int32", PtScalarType::I32},
        {"int", PtScalarType::I32},
        {"int16", PtScalarType::I16},
        {"short", PtScalarType::I16},
        {"int8", PtScalarType::I8},
        {"uint8", PtScalarType::U8},
        {"bool", PtScalarType::Bool},
    };
    for (const auto& [name, type] : kNames) {
        if (value.name() == name)
            return type;
    }
    return std::nullopt;
}

// torch._utils._rebuild_parameter(data, requires_grad, backward_hooks[, state]): an nn.Parameter saved as
// such; its data are the tensor.
Result<PickleValue*> rebuildParameter(PickleArena& arena, const PickleValue& callable, const PickleValue& args)
{
    const auto& a = args.items();
    if (a.empty() || !a[0]->is(Kind::Tensor))
        return Status::error(callable.module() + "." + callable.name() + ": the data argument is "
            + (a.empty() ? std::string("missing") : describeValue(*a[0])));
    Result<PickleValue*> tensor = make(arena, Kind::Tensor);
    if (!tensor)
        return tensor;
    B::tensor(**tensor) = a[0]->tensor();
    B::tensor(**tensor).requiresGrad = a.size() > 1 && a[1]->is(Kind::Bool) && a[1]->asBool();
    return tensor;
}

// Text of a Python str as latin-1 bytes (what _codecs.encode(text, 'latin1') returns for protocol-2 bytes).
bool utf8ToLatin1(const std::string& text, std::string& out)
{
    out.clear();
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto byte = static_cast<unsigned char>(text[i]);
        if (byte < 0x80) {
            out.push_back(static_cast<char>(byte));
        } else if ((byte & 0xE0) == 0xC0 && byte <= 0xC3 && i + 1 < text.size()
            && (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80) {
            out.push_back(static_cast<char>(((byte & 0x1F) << 6) | (static_cast<unsigned char>(text[i + 1]) & 0x3F)));
            ++i;
        } else {
            return false;
        }
    }
    return true;
}

} // namespace

std::optional<PtScalarType> storageClassType(const std::string& module, const std::string& name)
{
    // torch 2.x writes torch.storage.UntypedStorage (with _rebuild_tensor_v3); torch.cuda.<T>Storage appears in
    // files saved from CUDA tensors by old versions.
    if (module == "torch.storage")
        return name == "UntypedStorage" ? std::optional<PtScalarType>(PtScalarType::U8) : std::nullopt;
    if (module != "torch" && module != "torch.cuda")
        return std::nullopt;
    static const std::pair<const char*, PtScalarType> kTypes[] = {
        {"DoubleStorage", PtScalarType::F64},
        {"FloatStorage", PtScalarType::F32},
        {"HalfStorage", PtScalarType::F16},
        {"BFloat16Storage", PtScalarType::BF16},
        {"LongStorage", PtScalarType::I64},
        {"IntStorage", PtScalarType::I32},
        {"ShortStorage", PtScalarType::I16},
        {"CharStorage", PtScalarType::I8},
        {"ByteStorage", PtScalarType::U8},
        {"BoolStorage", PtScalarType::Bool},
        {"UntypedStorage", PtScalarType::U8},
    };
    for (const auto& [storageName, type] : kTypes) {
        if (name == storageName)
            return type;
    }
    return std::nullopt;
}

Result<PickleValue*> reduceGlobal(PickleArena& arena, const PickleValue& callable, const PickleValue& args)
{
    const auto& a = args.items();
    if (isGlobal(callable, "torch._utils", "_rebuild_tensor_v2")
        || isGlobal(callable, "torch._utils", "_rebuild_tensor")
        || isGlobal(callable, "torch._utils", "_rebuild_tensor_v3"))
        return rebuildTensor(arena, callable, args);
    if (isGlobal(callable, "torch._utils", "_rebuild_parameter")
        || isGlobal(callable, "torch._utils", "_rebuild_parameter_with_state"))
        return rebuildParameter(arena, callable, args);
    if (isGlobal(callable, "torch._tensor", "_rebuild_from_type_v2")) {
        // (func, tensor subclass, func's args, python state): the data are func(*args); the subclass and its
        // Python attributes are dropped, as LibTorch does.
        if (a.size() >= 3 && a[0]->is(Kind::Global) && a[2]->is(Kind::Tuple)
            && isGlobal(*a[0], "torch._utils", "_rebuild_tensor_v2"))
            return rebuildTensor(arena, *a[0], *a[2]);
        return inertObject(arena, callable, args);
    }
    if (isGlobal(callable, "collections", "OrderedDict")) {
        Result<PickleValue*> dict = make(arena, Kind::Dict);
        if (!dict)
            return dict;
        // OrderedDict(iterable of pairs); torch writes OrderedDict() and SETITEMS.
        if (!a.empty() && (a[0]->is(Kind::List) || a[0]->is(Kind::Tuple))) {
            for (const PickleValue* pair : a[0]->items()) {
                if (!pair->is(Kind::Tuple) || pair->items().size() != 2)
                    return Status::error(
                        "collections.OrderedDict: an item is " + describeValue(*pair) + ", not a pair");
                B::entries(**dict).emplace_back(pair->items()[0], pair->items()[1]);
            }
        }
        return dict;
    }
    if (isGlobal(callable, "torch", "device") && !a.empty() && a[0]->is(Kind::String)) {
        Result<PickleValue*> device = make(arena, Kind::String);
        if (!device)
            return device;
        B::text(**device) = a[0]->asString();
        if (a.size() > 1 && a[1]->is(Kind::Int))
            B::text(**device) += ":" + std::to_string(a[1]->asInt());
        return device;
    }
    // Protocol 2 has no bytes opcode for Python 3 bytes: they are pickled as _codecs.encode(text, 'latin1').
    if ((isGlobal(callable, "_codecs", "encode") || isGlobal(callable, "builtins", "bytearray")) && a.size() == 2
        && a[0]->is(Kind::String) && a[1]->is(Kind::String)
        && (a[1]->asString() == "latin1" || a[1]->asString() == "latin-1")) {
        std::string bytes;
        if (utf8ToLatin1(a[0]->asString(), bytes)) {
            Result<PickleValue*> value = make(arena, Kind::Bytes);
            if (!value)
                return value;
            B::text(**value) = std::move(bytes);
            return value;
        }
    }
    if ((isGlobal(callable, "builtins", "set") || isGlobal(callable, "builtins", "frozenset")) && a.size() == 1
        && a[0]->is(Kind::List)) {
        Result<PickleValue*> value = make(arena, callable.name() == "set" ? Kind::List : Kind::Tuple);
        if (!value)
            return value;
        B::items(**value) = a[0]->items();
        return value;
    }
    return inertObject(arena, callable, args);
}

Result<PickleValue*> newObject(PickleArena& arena, const PickleValue& cls, const PickleValue& args)
{
    if (isGlobal(cls, "collections", "OrderedDict"))
        return make(arena, Kind::Dict);
    return inertObject(arena, cls, args);
}

std::string describeValue(const PickleValue& value)
{
    switch (value.kind()) {
    case Kind::None:
        return "None";
    case Kind::Bool:
        return value.asBool() ? "True" : "False";
    case Kind::Int:
        return "the int " + std::to_string(value.asInt());
    case Kind::Float: {
        char text[40];
        std::snprintf(text, sizeof text, "the float %.6g", value.asFloat());
        return text;
    }
    case Kind::String:
        return "the string '" + shortText(value.asString()) + "'";
    case Kind::Bytes:
        return "bytes of length " + std::to_string(value.asString().size());
    case Kind::List:
        return "a list of " + std::to_string(value.items().size());
    case Kind::Tuple:
        return "a tuple of " + std::to_string(value.items().size());
    case Kind::Dict:
        return "a dict of " + std::to_string(value.entries().size());
    case Kind::Global:
        return "the global " + shortText(value.module() + "." + value.name());
    case Kind::Object:
        return "a " + shortText(value.module() + "." + value.name()) + " object";
    case Kind::Storage:
        return "storage '" + shortText(value.storage().key) + "'";
    case Kind::Tensor:
        return "a tensor";
    }
    return "a value";
}

} // namespace attn
