// SPDX-License-Identifier: GPL-3.0-or-later
#include "export/text_escape.h"

#include "hf_tokenizer/utf8.h"

namespace attn::exportfmt {

std::string base64(const std::string& bytes)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16
            | static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8
            | static_cast<unsigned char>(bytes[i + 2]);
        out += alphabet[v >> 18 & 63];
        out += alphabet[v >> 12 & 63];
        out += alphabet[v >> 6 & 63];
        out += alphabet[v & 63];
    }
    const size_t left = bytes.size() - i;
    if (left > 0) {
        uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
        if (left == 2)
            v |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
        out += alphabet[v >> 18 & 63];
        out += alphabet[v >> 12 & 63];
        out += left == 2 ? alphabet[v >> 6 & 63] : '=';
        out += '=';
    }
    return out;
}

bool isUtf8(const std::string& text)
{
    return !hf::firstInvalidUtf8(text).has_value();
}

std::string displayText(const std::string& bytes)
{
    return isUtf8(bytes) ? bytes : hf::replaceInvalidUtf8(bytes);
}

void putText(nlohmann::ordered_json& object, const std::string& key, const std::string& bytes)
{
    if (isUtf8(bytes)) {
        object[key] = bytes;
        return;
    }
    object[key] = hf::replaceInvalidUtf8(bytes);
    object[key + "_base64"] = base64(bytes);
}

void putTextArray(nlohmann::ordered_json& object, const std::string& key, const std::vector<std::string>& texts)
{
    nlohmann::ordered_json shown = nlohmann::ordered_json::array();
    nlohmann::ordered_json exact = nlohmann::ordered_json::array();
    bool anyInvalid = false;
    for (const std::string& text : texts) {
        const bool valid = isUtf8(text);
        anyInvalid = anyInvalid || !valid;
        shown.push_back(valid ? text : hf::replaceInvalidUtf8(text));
        exact.push_back(valid ? nlohmann::ordered_json() : nlohmann::ordered_json(base64(text)));
    }
    object[key] = std::move(shown);
    if (anyInvalid)
        object[key + "_base64"] = std::move(exact);
}

} // namespace attn::exportfmt
