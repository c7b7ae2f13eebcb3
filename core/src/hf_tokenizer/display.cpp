// SPDX-License-Identifier: GPL-3.0-or-later
#include "hf_tokenizer/display.h"

#include "hf_tokenizer/components.h"
#include "hf_tokenizer/utf8.h"

#include <cstdio>

namespace attn::hf {

namespace {

bool mentionsByteLevel(const nlohmann::json& node)
{
    if (node.is_object()) {
        if (node.contains("type") && node["type"] == "ByteLevel")
            return true;
        for (const auto& item : node.items())
            if (mentionsByteLevel(item.value()))
                return true;
    } else if (node.is_array()) {
        for (const auto& item : node)
            if (mentionsByteLevel(item))
                return true;
    }
    return false;
}

std::string hexByte(unsigned char b)
{
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    return buf;
}

// Whitespace and control characters made visible; other text unchanged. Invalid UTF-8 bytes as <0xHH>.
std::string visible(const std::string& bytes)
{
    std::string out;
    for (size_t pos = 0; pos < bytes.size();) {
        const auto b = static_cast<unsigned char>(bytes[pos]);
        const size_t length = utf8Length(b);
        const std::string one = bytes.substr(pos, length);
        if (b >= 0x80 && (length == 1 || firstInvalidUtf8(one))) {
            out += hexByte(b);
            ++pos;
            continue;
        }
        pos += length;
        if (one == " " || one == "\xE2\x96\x81")
            out += "␣";
        else if (one == "\n")
            out += "⏎";
        else if (one == "\t")
            out += "⇥";
        else if (one == "\r")
            out += "␍";
        else if (b < 0x20 || b == 0x7F)
            out += hexByte(b);
        else
            out += one;
    }
    return out;
}

bool isFallbackByte(const std::string& token, unsigned char& b)
{
    unsigned value = 0;
    if (token.size() != 6 || std::sscanf(token.c_str(), "<0x%2X>", &value) != 1 || token[5] != '>')
        return false;
    b = static_cast<unsigned char>(value);
    return true;
}

} // namespace

TokenDisplay TokenDisplay::forTokenizer(const nlohmann::json& root)
{
    TokenDisplay display;
    display.m_byteLevel = mentionsByteLevel(root.value("pre_tokenizer", nlohmann::json()))
        || mentionsByteLevel(root.value("decoder", nlohmann::json()));
    return display;
}

std::string TokenDisplay::show(const std::string& token) const
{
    unsigned char b = 0;
    if (isFallbackByte(token, b))
        return b < 0x80 ? visible(std::string(1, static_cast<char>(b))) : token;
    if (!m_byteLevel)
        return visible(token);
    std::string bytes;
    for (size_t pos = 0; pos < token.size();) {
        const size_t begin = pos;
        const char32_t c = decodeUtf8(token, pos);
        if (auto byte = charToByte(c))
            bytes.push_back(static_cast<char>(*byte));
        else
            bytes.append(token, begin, pos - begin);
    }
    return visible(bytes);
}

} // namespace attn::hf
