// SPDX-License-Identifier: GPL-3.0-or-later
#include "pt/unpickler.h"

#include "pt/pt_globals.h"

#include <cstdio>
#include <cstring>
#include <limits>
#include <unordered_map>
#include <vector>

namespace attn {

namespace {

using Kind = PickleValue::Kind;
using B = PickleBuilder;

// Caps. Real checkpoints are far below each; they bound memory for hostile files.
constexpr std::size_t kMaxStack = 1'000'000;
constexpr std::size_t kMaxMemo = 1u << 24;
constexpr uint64_t kMaxText = 256ull << 20; // one string or bytes value
constexpr std::size_t kMaxContainer = std::size_t(1) << 26; // elements of one list/tuple/dict
constexpr std::size_t kMaxGlobalName = 1024;
constexpr uint64_t kMaxLongBytes = 1u << 16;

std::string hexByte(uint8_t byte)
{
    char text[8];
    std::snprintf(text, sizeof text, "0x%02x", byte);
    return text;
}

// Names of opcodes that exist in Python's pickle but that torch never writes (text protocols 0/1,
// extension registry, out-of-band buffers): refused by name so the message is specific.
const char* unsupportedOpcodeName(uint8_t op)
{
    switch (op) {
    case 'I':
        return "INT";
    case 'L':
        return "LONG";
    case 'S':
        return "STRING";
    case 'V':
        return "UNICODE";
    case 'F':
        return "FLOAT";
    case 'p':
        return "PUT";
    case 'g':
        return "GET";
    case 'P':
        return "PERSID";
    case 'i':
        return "INST";
    case 'o':
        return "OBJ";
    case 0x82:
        return "EXT1";
    case 0x83:
        return "EXT2";
    case 0x84:
        return "EXT4";
    case 0x97:
        return "NEXT_BUFFER";
    case 0x98:
        return "READONLY_BUFFER";
    default:
        return nullptr;
    }
}

class Unpickler {
public:
    Unpickler(const uint8_t* data, uint64_t size, const std::string& where, PickleArena& arena,
        const StorageResolver& resolve)
        : m_data(data)
        , m_size(size)
        , m_where(where)
        , m_arena(arena)
        , m_resolve(resolve)
    {
    }

    Result<PickleValue*> run();

private:
    Status fail(const std::string& what) const
    {
        return Status::error(m_where + ": " + what + " at byte " + std::to_string(m_opStart));
    }
    Status failOp(const std::string& what) const { return fail(m_opName + " " + what); }

    // Reads n bytes of operand; false (with m_error set) when the data end first.
    bool take(uint64_t n, const uint8_t*& out)
    {
        if (n > m_size - m_pos) {
            m_error = fail(m_opName + " needs " + std::to_string(n) + " operand bytes but only "
                + std::to_string(m_size - m_pos) + " remain (truncated data.pkl?)");
            return false;
        }
        out = m_data + m_pos;
        m_pos += n;
        return true;
    }
    bool takeUnsigned(unsigned bytes, uint64_t& out)
    {
        const uint8_t* p = nullptr;
        if (!take(bytes, p))
            return false;
        out = 0;
        for (unsigned i = 0; i < bytes; ++i)
            out |= static_cast<uint64_t>(p[i]) << (8 * i);
        return true;
    }
    bool takeLine(std::string& out)
    {
        const uint64_t limit = std::min<uint64_t>(m_size - m_pos, kMaxGlobalName + 1);
        const void* nl = std::memchr(m_data + m_pos, '\n', limit);
        if (!nl) {
            m_error = fail(m_opName + " name is not a newline-terminated line of at most "
                + std::to_string(kMaxGlobalName) + " bytes");
            return false;
        }
        const uint64_t len = static_cast<const uint8_t*>(nl) - (m_data + m_pos);
        out.assign(reinterpret_cast<const char*>(m_data + m_pos), len);
        m_pos += len + 1;
        return true;
    }

    PickleValue* make(Kind kind)
    {
        PickleValue* value = m_arena.make(kind);
        if (!value)
            m_error = fail("more than " + std::to_string(PickleArena::kMaxValues) + " values");
        return value;
    }
    bool push(PickleValue* value)
    {
        if (!value)
            return false;
        if (m_stack.size() >= kMaxStack) {
            m_error = fail("stack deeper than " + std::to_string(kMaxStack) + " values");
            return false;
        }
        m_stack.push_back(value);
        return true;
    }
    // Values above the innermost MARK may be popped; below it they belong to the enclosing frame.
    std::size_t floor() const { return m_marks.empty() ? 0 : m_marks.back(); }
    bool need(std::size_t count)
    {
        if (m_stack.size() - floor() < count) {
            m_error = failOp("needs " + std::to_string(count) + " value(s) on the stack but it holds "
                + std::to_string(m_stack.size() - floor()) + " (stack underflow)");
            return false;
        }
        return true;
    }
    PickleValue* pop()
    {
        PickleValue* value = m_stack.back();
        m_stack.pop_back();
        return value;
    }
    // Pops everything above the innermost MARK, and the MARK.
    bool popMark(std::vector<PickleValue*>& out)
    {
        if (m_marks.empty()) {
            m_error = failOp("without a MARK");
            return false;
        }
        const std::size_t mark = m_marks.back();
        m_marks.pop_back();
        out.assign(m_stack.begin() + static_cast<std::ptrdiff_t>(mark), m_stack.end());
        m_stack.resize(mark);
        return true;
    }
    bool checkGrowth(std::size_t current, std::size_t added)
    {
        if (added > kMaxContainer || current > kMaxContainer - added) {
            m_error = failOp("would grow a container past " + std::to_string(kMaxContainer) + " elements");
            return false;
        }
        return true;
    }

    bool pushText(Kind kind, uint64_t length)
    {
        if (length > kMaxText) {
            m_error = failOp("declares " + std::to_string(length) + " bytes, more than the " + std::to_string(kMaxText)
                + " this reader accepts");
            return false;
        }
        const uint8_t* p = nullptr;
        if (!take(length, p))
            return false;
        PickleValue* value = make(kind);
        if (!value)
            return false;
        B::text(*value).assign(reinterpret_cast<const char*>(p), length);
        return push(value);
    }
    bool pushInt(int64_t number)
    {
        PickleValue* value = make(Kind::Int);
        if (!value)
            return false;
        B::setInt(*value, number);
        return push(value);
    }
    bool pushLong(uint64_t length);
    bool pushTuple(std::vector<PickleValue*> items);
    bool appendTo(PickleValue& target, const std::vector<PickleValue*>& items);
    bool setItems(PickleValue& target, const std::vector<PickleValue*>& keyValues);
    bool memoPut(uint64_t index);
    bool memoGet(uint64_t index);
    bool persistentLoad();
    bool step(uint8_t op, bool& stop);

    const uint8_t* m_data;
    uint64_t m_size;
    uint64_t m_pos = 0;
    uint64_t m_opStart = 0;
    std::string m_opName;
    const std::string& m_where;
    PickleArena& m_arena;
    const StorageResolver& m_resolve;
    std::vector<PickleValue*> m_stack;
    std::vector<std::size_t> m_marks;
    std::unordered_map<uint64_t, PickleValue*> m_memo;
    std::unordered_map<const PickleValue*, std::unordered_map<std::string, std::size_t>> m_dictIndex;
    Status m_error = Status::ok();
};

bool Unpickler::pushLong(uint64_t length)
{
    if (length > kMaxLongBytes) {
        m_error = failOp("declares a " + std::to_string(length) + "-byte integer");
        return false;
    }
    const uint8_t* p = nullptr;
    if (!take(length, p))
        return false;
    if (length <= 8) {
        // Little-endian two's complement of `length` bytes, sign-extended to 64 bits.
        uint64_t bits = 0;
        for (uint64_t i = 0; i < length; ++i)
            bits |= static_cast<uint64_t>(p[i]) << (8 * i);
        if (length > 0 && length < 8 && (p[length - 1] & 0x80))
            bits |= ~uint64_t(0) << (8 * length);
        int64_t number;
        std::memcpy(&number, &bits, sizeof number);
        return pushInt(number);
    }
    // Wider than int64: kept inert, as builtins.int with its little-endian bytes, rather than refusing the file.
    PickleValue* bytes = make(Kind::Bytes);
    PickleValue* args = make(Kind::Tuple);
    PickleValue* object = make(Kind::Object);
    if (!bytes || !args || !object)
        return false;
    B::text(*bytes).assign(reinterpret_cast<const char*>(p), length);
    B::items(*args).push_back(bytes);
    B::setNames(*object, "builtins", "int");
    B::setArgs(*object, args);
    return push(object);
}

bool Unpickler::pushTuple(std::vector<PickleValue*> items)
{
    PickleValue* tuple = make(Kind::Tuple);
    if (!tuple || !checkGrowth(0, items.size()))
        return false;
    B::items(*tuple).assign(items.begin(), items.end());
    return push(tuple);
}

bool Unpickler::appendTo(PickleValue& target, const std::vector<PickleValue*>& items)
{
    // Lists, and objects of list subclasses (their items are recorded, not interpreted).
    if (!target.is(Kind::List) && !target.is(Kind::Object)) {
        m_error = failOp("appends to " + describeValue(target) + ", not a list");
        return false;
    }
    auto& list = B::items(target);
    if (!checkGrowth(list.size(), items.size()))
        return false;
    list.insert(list.end(), items.begin(), items.end());
    return true;
}

bool Unpickler::setItems(PickleValue& target, const std::vector<PickleValue*>& keyValues)
{
    if (!target.is(Kind::Dict) && !target.is(Kind::Object)) {
        m_error = failOp("sets items on " + describeValue(target) + ", not a dict");
        return false;
    }
    if (keyValues.size() % 2 != 0) {
        m_error = failOp("has an odd number of values (" + std::to_string(keyValues.size()) + ") for key/value pairs");
        return false;
    }
    auto& entries = B::entries(target);
    if (!checkGrowth(entries.size(), keyValues.size() / 2))
        return false;
    // A repeated string or int key replaces the value in place, as a Python dict does. Only those two kinds
    // are compared (what state dicts, configs and optimizer states use); the index keeps this linear.
    auto& index = m_dictIndex[&target];
    for (std::size_t i = 0; i < keyValues.size(); i += 2) {
        const PickleValue* key = keyValues[i];
        if (!key->is(Kind::String) && !key->is(Kind::Int)) {
            entries.emplace_back(key, keyValues[i + 1]);
            continue;
        }
        std::string indexKey = key->is(Kind::String) ? "s" + key->asString() : "i" + std::to_string(key->asInt());
        auto [it, inserted] = index.emplace(std::move(indexKey), entries.size());
        if (inserted)
            entries.emplace_back(key, keyValues[i + 1]);
        else
            entries[it->second].second = keyValues[i + 1];
    }
    return true;
}

bool Unpickler::memoPut(uint64_t index)
{
    if (m_stack.empty()) {
        m_error = failOp("with an empty stack (stack underflow)");
        return false;
    }
    if (m_memo.size() >= kMaxMemo && !m_memo.count(index)) {
        m_error = failOp("would grow the memo past " + std::to_string(kMaxMemo) + " entries");
        return false;
    }
    m_memo[index] = m_stack.back();
    return true;
}

bool Unpickler::memoGet(uint64_t index)
{
    auto it = m_memo.find(index);
    if (it == m_memo.end()) {
        m_error = failOp("reads memo entry " + std::to_string(index) + ", which was never stored");
        return false;
    }
    return push(it->second);
}

bool Unpickler::persistentLoad()
{
    if (!need(1))
        return false;
    const PickleValue* pid = pop();
    // torch writes ('storage', torch.<T>Storage, key, location, numel).
    const auto& f = pid->items();
    if (!pid->is(Kind::Tuple) || f.size() != 5 || !f[0]->is(Kind::String) || f[0]->asString() != "storage") {
        m_error = failOp("persistent id is " + describeValue(*pid) + ", not ('storage', type, key, location, numel)");
        return false;
    }
    if (!f[1]->is(Kind::Global)) {
        m_error = failOp("storage type is " + describeValue(*f[1]) + ", not a torch storage class");
        return false;
    }
    const std::optional<PtScalarType> dtype = storageClassType(f[1]->module(), f[1]->name());
    if (!dtype) {
        m_error = failOp("unknown storage type " + f[1]->module() + "." + f[1]->name()
            + " (supported: torch.{Double,Float,Half,BFloat16,Long,Int,Short,Char,Byte,Bool}Storage, "
              "torch.UntypedStorage)");
        return false;
    }
    if (!f[2]->is(Kind::String) || !f[3]->is(Kind::String) || !f[4]->is(Kind::Int) || f[4]->asInt() < 0) {
        m_error = failOp("storage record " + describeValue(*pid)
            + " needs a string key, a string location and a non-negative element count");
        return false;
    }
    Result<const PtStorage*> storage = m_resolve(f[2]->asString(), *dtype, f[3]->asString(), f[4]->asInt());
    if (!storage) {
        m_error = fail(storage.message() + " (BINPERSID)");
        return false;
    }
    PickleValue* value = make(Kind::Storage);
    if (!value)
        return false;
    B::setStorage(*value, *storage);
    return push(value);
}

bool Unpickler::step(uint8_t op, bool& stop)
{
    uint64_t n = 0;
    const uint8_t* p = nullptr;
    std::vector<PickleValue*> marked;
    switch (op) {
    case 0x80: // PROTO
        if (!takeUnsigned(1, n))
            return false;
        if (n > 5) {
            m_error = failOp("version " + std::to_string(n) + " is newer than pickle protocol 5");
            return false;
        }
        return true;
    case 0x95: // FRAME: a length hint for buffered readers; the data are read the same way without it
        if (!takeUnsigned(8, n))
            return false;
        if (n > m_size - m_pos) {
            m_error = failOp("announces " + std::to_string(n) + " bytes but only " + std::to_string(m_size - m_pos)
                + " remain (truncated data.pkl?)");
            return false;
        }
        return true;
    case '.': // STOP
        if (!need(1))
            return false;
        stop = true;
        return true;
    case '(': // MARK
        if (m_marks.size() >= kMaxStack) {
            m_error = failOp("nests more than " + std::to_string(kMaxStack) + " marks");
            return false;
        }
        m_marks.push_back(m_stack.size());
        return true;
    case '0': // POP
        if (!need(1))
            return false;
        pop();
        return true;
    case '1': // POP_MARK
        return popMark(marked);
    case '2': // DUP
        if (!need(1))
            return false;
        return push(m_stack.back());
    case 'J': // BININT
        if (!takeUnsigned(4, n))
            return false;
        return pushInt(static_cast<int32_t>(static_cast<uint32_t>(n)));
    case 'K': // BININT1
        if (!takeUnsigned(1, n))
            return false;
        return pushInt(static_cast<int64_t>(n));
    case 'M': // BININT2
        if (!takeUnsigned(2, n))
            return false;
        return pushInt(static_cast<int64_t>(n));
    case 0x8a: // LONG1
        return takeUnsigned(1, n) && pushLong(n);
    case 0x8b: // LONG4
        if (!takeUnsigned(4, n))
            return false;
        if (n & 0x80000000u) {
            m_error = failOp("has a negative length");
            return false;
        }
        return pushLong(n);
    case 'G': { // BINFLOAT: big-endian IEEE double
        if (!take(8, p))
            return false;
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i)
            bits = (bits << 8) | p[i];
        double number;
        std::memcpy(&number, &bits, sizeof number);
        PickleValue* value = make(Kind::Float);
        if (!value)
            return false;
        B::setFloat(*value, number);
        return push(value);
    }
    case 'X': // BINUNICODE
        return takeUnsigned(4, n) && pushText(Kind::String, n);
    case 0x8c: // SHORT_BINUNICODE
        return takeUnsigned(1, n) && pushText(Kind::String, n);
    case 0x8d: // BINUNICODE8
        return takeUnsigned(8, n) && pushText(Kind::String, n);
    case 'T': // BINSTRING (Python 2 str; Python 3 reads it as ASCII text)
        return takeUnsigned(4, n) && pushText(Kind::String, n);
    case 'U': // SHORT_BINSTRING
        return takeUnsigned(1, n) && pushText(Kind::String, n);
    case 'B': // BINBYTES
        return takeUnsigned(4, n) && pushText(Kind::Bytes, n);
    case 'C': // SHORT_BINBYTES
        return takeUnsigned(1, n) && pushText(Kind::Bytes, n);
    case 0x8e: // BINBYTES8
    case 0x96: // BYTEARRAY8
        return takeUnsigned(8, n) && pushText(Kind::Bytes, n);
    case 'N': // NONE
        return push(make(Kind::None));
    case 0x88: // NEWTRUE
    case 0x89: { // NEWFALSE
        PickleValue* value = make(Kind::Bool);
        if (!value)
            return false;
        B::setInt(*value, op == 0x88 ? 1 : 0);
        return push(value);
    }
    case '}': // EMPTY_DICT
        return push(make(Kind::Dict));
    case ']': // EMPTY_LIST
    case 0x8f: // EMPTY_SET: kept as a list (sets only appear in loggers and configs)
        return push(make(Kind::List));
    case ')': // EMPTY_TUPLE
        return pushTuple({});
    case 't': // TUPLE
    case 0x91: // FROZENSET: kept as a tuple
        return popMark(marked) && pushTuple(std::move(marked));
    case 0x85: // TUPLE1
    case 0x86: // TUPLE2
    case 0x87: { // TUPLE3
        const std::size_t count = op - 0x84u;
        if (!need(count))
            return false;
        std::vector<PickleValue*> items(m_stack.end() - static_cast<std::ptrdiff_t>(count), m_stack.end());
        m_stack.resize(m_stack.size() - count);
        return pushTuple(std::move(items));
    }
    case 'l': { // LIST
        if (!popMark(marked))
            return false;
        PickleValue* list = make(Kind::List);
        return list && appendTo(*list, marked) && push(list);
    }
    case 'd': { // DICT
        if (!popMark(marked))
            return false;
        PickleValue* dict = make(Kind::Dict);
        return dict && setItems(*dict, marked) && push(dict);
    }
    case 'a': { // APPEND
        if (!need(2))
            return false;
        PickleValue* item = pop();
        return appendTo(*m_stack.back(), {item});
    }
    case 'e': // APPENDS
    case 0x90: // ADDITEMS
        if (!popMark(marked))
            return false;
        if (m_stack.size() <= floor()) {
            m_error = failOp("has no list below its MARK (stack underflow)");
            return false;
        }
        return appendTo(*m_stack.back(), marked);
    case 's': { // SETITEM
        if (!need(3))
            return false;
        PickleValue* value = pop();
        PickleValue* key = pop();
        return setItems(*m_stack.back(), {key, value});
    }
    case 'u': // SETITEMS
        if (!popMark(marked))
            return false;
        if (m_stack.size() <= floor()) {
            m_error = failOp("has no dict below its MARK (stack underflow)");
            return false;
        }
        return setItems(*m_stack.back(), marked);
    case 'q': // BINPUT
        return takeUnsigned(1, n) && memoPut(n);
    case 'r': // LONG_BINPUT
        return takeUnsigned(4, n) && memoPut(n);
    case 0x94: // MEMOIZE
        return memoPut(m_memo.size());
    case 'h': // BINGET
        return takeUnsigned(1, n) && memoGet(n);
    case 'j': // LONG_BINGET
        return takeUnsigned(4, n) && memoGet(n);
    case 'c': { // GLOBAL "module\nname\n": recorded by name, never imported
        std::string module, name;
        if (!takeLine(module) || !takeLine(name))
            return false;
        PickleValue* global = make(Kind::Global);
        if (!global)
            return false;
        B::setNames(*global, std::move(module), std::move(name));
        return push(global);
    }
    case 0x93: { // STACK_GLOBAL
        if (!need(2))
            return false;
        PickleValue* name = pop();
        PickleValue* module = pop();
        if (!module->is(Kind::String) || !name->is(Kind::String)) {
            m_error = failOp("needs two strings, got " + describeValue(*module) + " and " + describeValue(*name));
            return false;
        }
        PickleValue* global = make(Kind::Global);
        if (!global)
            return false;
        B::setNames(*global, module->asString(), name->asString());
        return push(global);
    }
    case 'R': // REDUCE
    case 0x81: { // NEWOBJ
        if (!need(2))
            return false;
        PickleValue* args = pop();
        PickleValue* callable = pop();
        if (!callable->is(Kind::Global)) {
            m_error = failOp("calls " + describeValue(*callable) + ", not a global");
            return false;
        }
        if (!args->is(Kind::Tuple)) {
            m_error = failOp("arguments of " + callable->module() + "." + callable->name() + " are "
                + describeValue(*args) + ", not a tuple");
            return false;
        }
        Result<PickleValue*> result
            = op == 'R' ? reduceGlobal(m_arena, *callable, *args) : newObject(m_arena, *callable, *args);
        if (!result) {
            m_error = failOp(result.message());
            return false;
        }
        return push(*result);
    }
    case 0x92: { // NEWOBJ_EX: keyword arguments are kept in the object's state slot until a BUILD
        if (!need(3))
            return false;
        PickleValue* kwargs = pop();
        PickleValue* args = pop();
        PickleValue* cls = pop();
        if (!cls->is(Kind::Global) || !args->is(Kind::Tuple) || !kwargs->is(Kind::Dict)) {
            m_error = failOp("needs a global, a tuple and a dict, got " + describeValue(*cls) + ", "
                + describeValue(*args) + " and " + describeValue(*kwargs));
            return false;
        }
        Result<PickleValue*> result = newObject(m_arena, *cls, *args);
        if (!result) {
            m_error = failOp(result.message());
            return false;
        }
        if (!kwargs->entries().empty() && (*result)->is(Kind::Object))
            B::setState(**result, kwargs);
        return push(*result);
    }
    case 'b': { // BUILD: the state is recorded, never applied through __setstate__
        if (!need(2))
            return false;
        PickleValue* state = pop();
        PickleValue* target = m_stack.back();
        if (!target->is(Kind::Object) && !target->is(Kind::Dict) && !target->is(Kind::Tensor)) {
            m_error = failOp("sets the state of " + describeValue(*target) + ", which has none");
            return false;
        }
        B::setState(*target, state);
        return true;
    }
    case 'Q': // BINPERSID
        return persistentLoad();
    default:
        if (const char* name = unsupportedOpcodeName(op)) {
            m_error = fail(
                std::string("unsupported opcode ") + name + " (" + hexByte(op) + "); torch.save never writes it");
        } else {
            m_error = fail("unknown opcode " + hexByte(op));
        }
        return false;
    }
}

const char* opcodeName(uint8_t op)
{
    switch (op) {
    case 0x80:
        return "PROTO";
    case 0x95:
        return "FRAME";
    case '.':
        return "STOP";
    case '(':
        return "MARK";
    case '0':
        return "POP";
    case '1':
        return "POP_MARK";
    case '2':
        return "DUP";
    case 'J':
        return "BININT";
    case 'K':
        return "BININT1";
    case 'M':
        return "BININT2";
    case 0x8a:
        return "LONG1";
    case 0x8b:
        return "LONG4";
    case 'G':
        return "BINFLOAT";
    case 'X':
        return "BINUNICODE";
    case 0x8c:
        return "SHORT_BINUNICODE";
    case 0x8d:
        return "BINUNICODE8";
    case 'T':
        return "BINSTRING";
    case 'U':
        return "SHORT_BINSTRING";
    case 'B':
        return "BINBYTES";
    case 'C':
        return "SHORT_BINBYTES";
    case 0x8e:
        return "BINBYTES8";
    case 0x96:
        return "BYTEARRAY8";
    case 'N':
        return "NONE";
    case 0x88:
        return "NEWTRUE";
    case 0x89:
        return "NEWFALSE";
    case '}':
        return "EMPTY_DICT";
    case ']':
        return "EMPTY_LIST";
    case 0x8f:
        return "EMPTY_SET";
    case ')':
        return "EMPTY_TUPLE";
    case 't':
        return "TUPLE";
    case 0x91:
        return "FROZENSET";
    case 0x85:
        return "TUPLE1";
    case 0x86:
        return "TUPLE2";
    case 0x87:
        return "TUPLE3";
    case 'l':
        return "LIST";
    case 'd':
        return "DICT";
    case 'a':
        return "APPEND";
    case 'e':
        return "APPENDS";
    case 0x90:
        return "ADDITEMS";
    case 's':
        return "SETITEM";
    case 'u':
        return "SETITEMS";
    case 'q':
        return "BINPUT";
    case 'r':
        return "LONG_BINPUT";
    case 0x94:
        return "MEMOIZE";
    case 'h':
        return "BINGET";
    case 'j':
        return "LONG_BINGET";
    case 'c':
        return "GLOBAL";
    case 0x93:
        return "STACK_GLOBAL";
    case 'R':
        return "REDUCE";
    case 0x81:
        return "NEWOBJ";
    case 0x92:
        return "NEWOBJ_EX";
    case 'b':
        return "BUILD";
    case 'Q':
        return "BINPERSID";
    default:
        return "opcode";
    }
}

Result<PickleValue*> Unpickler::run()
{
    bool stop = false;
    while (!stop) {
        if (m_pos >= m_size) {
            m_opStart = m_pos;
            return fail("data end without STOP (truncated data.pkl?)");
        }
        m_opStart = m_pos;
        const uint8_t op = m_data[m_pos++];
        m_opName = opcodeName(op);
        if (!step(op, stop))
            return m_error;
    }
    return m_stack.back();
}

} // namespace

Result<PickleValue*> unpickle(
    const uint8_t* data, uint64_t size, const std::string& where, PickleArena& arena, const StorageResolver& resolve)
{
    Unpickler vm(data, size, where, arena, resolve);
    return vm.run();
}

} // namespace attn
