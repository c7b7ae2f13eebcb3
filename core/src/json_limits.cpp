// SPDX-License-Identifier: GPL-3.0-or-later
#include "json_limits.h"

#include <string>
#include <unordered_set>
#include <vector>

namespace attn::detail {

namespace {

using json = nlohmann::json;

// A SAX consumer that builds nothing: it only tracks the open containers, so its cost is linear in the input
// and its memory in the keys of the objects currently open.
class JsonPrecheck final : public nlohmann::json_sax<json> {
public:
    explicit JsonPrecheck(const JsonLimits& limits)
        : m_limits(limits)
    {
    }

    const std::string& error() const { return m_error; }

    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool string(string_t&) override { return true; }
    bool binary(binary_t&) override { return true; }

    bool start_object(std::size_t) override { return open(true); }
    bool end_object() override { return close(); }
    bool start_array(std::size_t) override { return open(false); }
    bool end_array() override { return close(); }

    bool key(string_t& key) override
    {
        Frame& frame = m_frames.back();
        frame.lastKey = key;
        if (m_limits.rejectDuplicateKeys && !frame.keys.insert(key).second) {
            m_error = "duplicate key \"" + textExcerpt(path(), 80) + "\" (it appears more than once)";
            return false;
        }
        return true;
    }

    bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) override
    {
        // nlohmann's message quotes the whole token read so far, which for a long string is the whole input.
        m_error = "not valid JSON: " + textExcerpt(e.what(), 160) + " (byte " + std::to_string(position) + ")";
        return false;
    }

private:
    struct Frame {
        bool isObject = false;
        std::string lastKey;
        std::unordered_set<std::string> keys;
    };

    bool open(bool isObject)
    {
        if (m_frames.size() >= m_limits.maxDepth) {
            m_error = "nested deeper than " + std::to_string(m_limits.maxDepth) + " levels (at \""
                + textExcerpt(path(), 80) + "\")";
            return false;
        }
        m_frames.push_back(Frame {isObject, {}, {}});
        return true;
    }

    bool close()
    {
        m_frames.pop_back();
        return true;
    }

    // The dotted path of the key being read, e.g. rope_scaling.factor; arrays show as [].
    std::string path() const
    {
        std::string text;
        for (const Frame& frame : m_frames) {
            if (!frame.isObject) {
                text += "[]";
                continue;
            }
            if (!text.empty())
                text += '.';
            text += frame.lastKey.size() > 40 ? frame.lastKey.substr(0, 40) + "..." : frame.lastKey;
        }
        return text;
    }

    JsonLimits m_limits;
    std::vector<Frame> m_frames;
    std::string m_error;
};

} // namespace

Status parseUntrustedJson(std::string_view text, const JsonLimits& limits, nlohmann::json& out)
{
    try {
        JsonPrecheck precheck(limits);
        if (!json::sax_parse(text.begin(), text.end(), &precheck)) {
            return Status::error(precheck.error().empty() ? std::string("not valid JSON") : precheck.error());
        }
        // Without a callback nlohmann builds the value iteratively and in linear time (its callback parser rescans
        // the parent object after every child, which is quadratic).
        out = json::parse(text.begin(), text.end());
        return Status::ok();
    } catch (const json::exception& e) {
        return Status::error("not valid JSON: " + textExcerpt(e.what(), 160));
    }
}

std::string textExcerpt(std::string_view text, std::size_t maxChars)
{
    static const char hexDigits[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (out.size() >= maxChars) {
            out += "...";
            break;
        }
        const auto byte = static_cast<unsigned char>(text[i]);
        if (byte >= 0x20 && byte < 0x7f && byte != '\\') {
            out += static_cast<char>(byte);
        } else if (byte == '\\') {
            out += "\\\\";
        } else {
            out += "\\x";
            out += hexDigits[byte >> 4];
            out += hexDigits[byte & 0x0f];
        }
    }
    return out;
}

std::string jsonExcerpt(const nlohmann::json& value, std::size_t maxChars)
{
    // Depth is bounded by parseUntrustedJson, so dump() cannot recurse far; the text is cut afterwards.
    std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
    if (text.size() > maxChars)
        text = text.substr(0, maxChars) + "...";
    return text;
}

} // namespace attn::detail
