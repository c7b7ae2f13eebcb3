// SPDX-License-Identifier: GPL-3.0-or-later
// GPT-2's byte <-> printable character table (bytes_to_unicode), built by its rule rather than typed in.
#include "hf_tokenizer/components.h"

#include <array>

namespace attn::hf {

namespace {

struct ByteTable {
    std::array<char32_t, 256> toChar {};
    std::unordered_map<char32_t, unsigned char> toByte;
    ByteTable()
    {
        // Printable Latin-1 bytes stand for themselves; the 68 others take U+0100 upwards, in byte order.
        char32_t next = 0x100;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            toChar[static_cast<size_t>(b)] = printable ? static_cast<char32_t>(b) : next++;
            toByte[toChar[static_cast<size_t>(b)]] = static_cast<unsigned char>(b);
        }
    }
};

const ByteTable& table()
{
    static const ByteTable t;
    return t;
}

} // namespace

char32_t byteToChar(unsigned char byte)
{
    return table().toChar[byte];
}

std::optional<unsigned char> charToByte(char32_t c)
{
    auto it = table().toByte.find(c);
    if (it == table().toByte.end())
        return std::nullopt;
    return it->second;
}

} // namespace attn::hf
