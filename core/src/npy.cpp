// SPDX-License-Identifier: GPL-3.0-or-later
#include "attnscope/npy.h"

#include "attnscope/fileio.h"

#include "json_limits.h"

#include <cctype>
#include <cstring>
#include <limits>
#include <map>

namespace attn {

// The data bytes are copied straight from memory, which is only valid where memory is little-endian.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "npy.cpp assumes a little-endian host");

namespace {

const char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;
// numpy aligns the data to 64 bytes since 1.x (ARRAY_ALIGN), which lets readers map it in place.
constexpr std::size_t kAlign = 64;

std::string shapeTuple(const std::vector<int64_t>& shape)
{
    // Python tuple syntax: a 1-tuple needs the trailing comma, "(n,)", or it reads as a plain int.
    std::string text = "(";
    for (std::size_t i = 0; i < shape.size(); ++i)
        text += (i ? ", " : "") + std::to_string(shape[i]);
    if (shape.size() == 1)
        text += ",";
    return text + ")";
}

uint64_t elementCount(const std::vector<int64_t>& shape)
{
    uint64_t count = 1;
    for (int64_t dim : shape)
        count *= dim > 0 ? static_cast<uint64_t>(dim) : 0;
    return count;
}

std::string headerDict(const std::vector<int64_t>& shape)
{
    return "{'descr': '<f4', 'fortran_order': False, 'shape': " + shapeTuple(shape) + ", }";
}

// A value of the header dict: the subset of Python literals numpy writes there.
struct PyValue {
    enum class Kind { String, Bool, Tuple } kind = Kind::String;
    std::string text;
    bool flag = false;
    std::vector<int64_t> items;
};

// Recursive-descent reader for the header dict. numpy writes it with repr(), so only strings,
// True/False and tuples of ints can appear; anything else (a structured dtype's list, say) is
// reported as unsupported instead of guessed at.
class HeaderParser {
public:
    explicit HeaderParser(const std::string& text)
        : m_text(text)
    {
    }

    Result<std::map<std::string, PyValue>> parseDict()
    {
        std::map<std::string, PyValue> dict;
        skipSpace();
        if (!consume('{'))
            return error("expected '{'");
        for (;;) {
            skipSpace();
            if (consume('}'))
                break;
            Result<std::string> key = parseString();
            if (!key)
                return key.status();
            skipSpace();
            if (!consume(':'))
                return error("expected ':' after key '" + detail::textExcerpt(*key) + "'");
            skipSpace();
            Result<PyValue> value = parseValue();
            if (!value)
                return value.status();
            if (!dict.emplace(*key, std::move(*value)).second)
                return error("key '" + detail::textExcerpt(*key) + "' appears twice");
            skipSpace();
            if (consume(','))
                continue;
            skipSpace();
            if (consume('}'))
                break;
            return error("expected ',' or '}'");
        }
        skipSpace();
        if (m_pos != m_text.size())
            return error("unexpected text after the closing '}'");
        return dict;
    }

private:
    Status error(const std::string& what) const
    {
        return Status::error("malformed header dict at offset " + std::to_string(m_pos) + ": " + what);
    }
    void skipSpace()
    {
        while (m_pos < m_text.size() && std::isspace(static_cast<unsigned char>(m_text[m_pos])))
            ++m_pos;
    }
    bool consume(char c)
    {
        if (m_pos < m_text.size() && m_text[m_pos] == c) {
            ++m_pos;
            return true;
        }
        return false;
    }
    bool consumeWord(const char* word)
    {
        const std::size_t length = std::strlen(word);
        if (m_text.compare(m_pos, length, word) == 0) {
            m_pos += length;
            return true;
        }
        return false;
    }

    Result<std::string> parseString()
    {
        if (m_pos >= m_text.size() || (m_text[m_pos] != '\'' && m_text[m_pos] != '"'))
            return error("expected a quoted string");
        const char quote = m_text[m_pos++];
        const auto close = m_text.find(quote, m_pos);
        if (close == std::string::npos)
            return error("unterminated string");
        std::string value = m_text.substr(m_pos, close - m_pos);
        m_pos = close + 1;
        return value;
    }

    Result<int64_t> parseInt()
    {
        const std::size_t start = m_pos;
        int64_t value = 0;
        while (m_pos < m_text.size() && std::isdigit(static_cast<unsigned char>(m_text[m_pos]))) {
            const int digit = m_text[m_pos] - '0';
            if (value > (std::numeric_limits<int64_t>::max() - digit) / 10)
                return error("dimension too large");
            value = value * 10 + digit;
            ++m_pos;
        }
        if (m_pos == start)
            return error("expected a non-negative integer");
        consume('L'); // Python 2 numpy wrote longs as "3L"
        return value;
    }

    Result<PyValue> parseValue()
    {
        PyValue value;
        if (m_pos < m_text.size() && (m_text[m_pos] == '\'' || m_text[m_pos] == '"')) {
            Result<std::string> text = parseString();
            if (!text)
                return text.status();
            value.text = *text;
            return value;
        }
        if (consumeWord("True")) {
            value.kind = PyValue::Kind::Bool;
            value.flag = true;
            return value;
        }
        if (consumeWord("False")) {
            value.kind = PyValue::Kind::Bool;
            return value;
        }
        if (consume('(')) {
            value.kind = PyValue::Kind::Tuple;
            for (;;) {
                skipSpace();
                if (consume(')'))
                    return value;
                Result<int64_t> item = parseInt();
                if (!item)
                    return item.status();
                // numpy allows 64 dimensions; more is a corrupt header, and would make a huge message.
                if (value.items.size() == 64)
                    return error("shape tuple has more than 64 dimensions");
                value.items.push_back(*item);
                skipSpace();
                if (consume(','))
                    continue;
                skipSpace();
                if (consume(')'))
                    return value;
                return error("expected ',' or ')' in shape tuple");
            }
        }
        return error("unsupported value (only strings, True/False and integer tuples are read)");
    }

    const std::string& m_text;
    std::size_t m_pos = 0;
};

uint32_t readLittle(const std::string& bytes, std::size_t offset, int count)
{
    uint32_t value = 0;
    for (int i = count - 1; i >= 0; --i)
        value = (value << 8) | static_cast<unsigned char>(bytes[offset + static_cast<std::size_t>(i)]);
    return value;
}

Result<NpyArray> parseNpyImpl(const std::string& bytes, const std::string& path)
{
    const auto fail = [&](const std::string& what) { return Status::error("npy file \"" + path + "\": " + what); };

    if (bytes.size() < kMagicSize + 4 || bytes.compare(0, kMagicSize, kMagic, kMagicSize) != 0)
        return fail("not a .npy file (missing the \\x93NUMPY magic)");
    const int major = static_cast<unsigned char>(bytes[6]);
    // Version 1 stores the header length in 2 bytes; 2 and 3 (large or UTF-8 headers) in 4.
    std::size_t lengthBytes = 0;
    if (major == 1)
        lengthBytes = 2;
    else if (major == 2 || major == 3)
        lengthBytes = 4;
    else
        return fail("unsupported format version " + std::to_string(major));
    if (bytes.size() < 8 + lengthBytes)
        return fail("file is truncated inside the preamble");
    const std::size_t headerLength = readLittle(bytes, 8, static_cast<int>(lengthBytes));
    const std::size_t dataStart = 8 + lengthBytes + headerLength;
    if (dataStart > bytes.size())
        return fail("header length " + std::to_string(headerLength) + " runs past the end of the file");

    Result<std::map<std::string, PyValue>> dict = HeaderParser(bytes.substr(8 + lengthBytes, headerLength)).parseDict();
    if (!dict)
        return fail(dict.message());
    for (const auto& [key, value] : *dict) {
        if (key != "descr" && key != "fortran_order" && key != "shape")
            return fail("unexpected header key '" + detail::textExcerpt(key) + "'");
    }
    for (const char* key : {"descr", "fortran_order", "shape"}) {
        if (dict->count(key) == 0)
            return fail(std::string("header lacks the '") + key + "' key");
    }
    const PyValue& descr = dict->at("descr");
    const PyValue& fortran = dict->at("fortran_order");
    const PyValue& shapeValue = dict->at("shape");
    if (descr.kind != PyValue::Kind::String)
        return fail("'descr' is not a string");
    if (fortran.kind != PyValue::Kind::Bool)
        return fail("'fortran_order' is not True or False");
    if (shapeValue.kind != PyValue::Kind::Tuple)
        return fail("'shape' is not a tuple");

    std::size_t itemSize = 0;
    if (descr.text == "<f4")
        itemSize = 4;
    else if (descr.text == "<f8")
        itemSize = 8;
    else if (descr.text.size() > 1 && descr.text[0] == '>')
        return fail("big-endian data ('" + detail::textExcerpt(descr.text) + "') is not supported; save it as '<f4'");
    else
        return fail("unsupported dtype '" + detail::textExcerpt(descr.text) + "' (expected '<f4' or '<f8')");
    if (fortran.flag)
        return fail("Fortran-order arrays are not supported; save a C-contiguous array");

    NpyArray array;
    array.shape = shapeValue.items;
    uint64_t count = 1;
    for (int64_t dim : array.shape) {
        if (dim != 0 && count > std::numeric_limits<uint64_t>::max() / itemSize / static_cast<uint64_t>(dim))
            return fail("shape " + shapeTuple(array.shape) + " is too large");
        count *= static_cast<uint64_t>(dim);
    }
    const uint64_t dataBytes = bytes.size() - dataStart;
    if (dataBytes != count * itemSize) {
        return fail("file holds " + std::to_string(dataBytes) + " data bytes but shape " + shapeTuple(array.shape)
            + " of '" + detail::textExcerpt(descr.text) + "' needs " + std::to_string(count * itemSize));
    }

    array.values.resize(count);
    const char* data = bytes.data() + dataStart;
    if (itemSize == 4) {
        if (count > 0)
            std::memcpy(array.values.data(), data, count * 4);
    } else {
        for (uint64_t i = 0; i < count; ++i) {
            double value;
            std::memcpy(&value, data + i * 8, 8);
            array.values[i] = static_cast<float>(value);
        }
    }
    return array;
}

} // namespace

std::string encodeNpyFloat32(const float* data, const std::vector<int64_t>& shape)
{
    std::string header = headerDict(shape);
    // Magic (6) + version (2) + length (2) + header + '\n' must be a multiple of kAlign.
    const std::size_t unpadded = kMagicSize + 4 + header.size() + 1;
    header.append((kAlign - unpadded % kAlign) % kAlign, ' ');
    header.push_back('\n');

    const uint64_t count = elementCount(shape);
    std::string bytes(kMagic, kMagicSize);
    bytes.push_back('\x01');
    bytes.push_back('\x00');
    bytes.push_back(static_cast<char>(header.size() & 0xFF));
    bytes.push_back(static_cast<char>((header.size() >> 8) & 0xFF));
    bytes += header;
    if (count > 0 && data != nullptr)
        bytes.append(reinterpret_cast<const char*>(data), count * sizeof(float));
    return bytes;
}

Status writeNpyFloat32(const std::string& path, const float* data, const std::vector<int64_t>& shape)
{
    try {
        for (int64_t dim : shape) {
            if (dim < 0)
                return Status::error("cannot write \"" + path + "\": negative dimension in shape " + shapeTuple(shape));
        }
        if (elementCount(shape) > 0 && data == nullptr)
            return Status::error("cannot write \"" + path + "\": data pointer is null");
        // Format 1.0 stores the header length in 16 bits.
        if (headerDict(shape).size() + kAlign > std::numeric_limits<uint16_t>::max())
            return Status::error("cannot write \"" + path + "\": shape has too many dimensions for .npy 1.0");
        return writeFileAtomic(path, encodeNpyFloat32(data, shape));
    } catch (const std::exception& e) {
        return Status::error("cannot write \"" + path + "\": " + e.what());
    }
}

Result<NpyArray> readNpyFloat32(const std::string& path)
{
    try {
        // The whole array is held as float32 anyway; the bound only stops a runaway file or a device.
        Result<std::string> read = readRegularFile(path, uint64_t(16) << 30);
        if (!read)
            return read.status();
        return parseNpyImpl(*read, path);
    } catch (const std::exception& e) {
        return Status::error("npy file \"" + path + "\": " + e.what());
    }
}

Result<NpyArray> parseNpyFloat32(const std::string& bytes, const std::string& name)
{
    try {
        return parseNpyImpl(bytes, name);
    } catch (const std::exception& e) {
        return Status::error("npy file \"" + name + "\": " + e.what());
    }
}

} // namespace attn
