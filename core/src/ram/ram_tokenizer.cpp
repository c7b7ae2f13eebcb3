// SPDX-License-Identifier: GPL-3.0-or-later
#include "ram/ram_tokenizer.h"

#include <cctype>

namespace attn::detail {

namespace {

bool isSpace(char c)
{
    return std::isspace(static_cast<unsigned char>(c)) != 0;
}

// SimpleTokenizer puts a space before these, so each starts a new word (the rest of the word stays glued to it).
bool startsWord(char c)
{
    return c == '.' || c == ',' || c == '?';
}

} // namespace

RamWordTokenizer::RamWordTokenizer(std::vector<std::string> words)
    : m_words(std::move(words))
{
    for (size_t i = 0; i < m_words.size(); ++i)
        m_ids.emplace(m_words[i], static_cast<int64_t>(i)); // first wins, as word2ind was built
}

std::vector<std::pair<std::string, TokenSpan>> RamWordTokenizer::split(const std::string& text) const
{
    std::vector<std::pair<std::string, TokenSpan>> out;
    std::string word;
    size_t begin = 0;
    auto flush = [&](size_t end) {
        if (!word.empty())
            out.push_back({word, {begin, end}});
        word.clear();
    };
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (isSpace(c)) {
            flush(i);
            continue;
        }
        if (startsWord(c))
            flush(i);
        if (word.empty())
            begin = i;
        word.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    flush(text.size());
    return out;
}

std::vector<int64_t> RamWordTokenizer::encode(const std::string& text) const
{
    std::vector<int64_t> ids;
    for (const auto& [word, span] : split(text)) {
        auto it = m_ids.find(word);
        ids.push_back(it == m_ids.end() ? 0 : it->second);
    }
    return ids;
}

Result<Encoding> RamWordTokenizer::encodeChecked(const std::string& text, bool) const
{
    Encoding encoding;
    for (const auto& [word, span] : split(text)) {
        auto it = m_ids.find(word);
        if (it == m_ids.end())
            return Status::error("the word \"" + word + "\" (bytes " + std::to_string(span.begin) + ".."
                + std::to_string(span.end) + ") is not in the checkpoint's vocabulary of "
                + std::to_string(m_words.size()) + " words");
        encoding.ids.push_back(it->second);
        encoding.spans.push_back(span);
    }
    return encoding;
}

std::string RamWordTokenizer::decode(const std::vector<int64_t>& ids) const
{
    std::string text;
    for (int64_t id : ids) {
        if (id <= 0 || id >= vocabSize()) // 0 is <pad>
            continue;
        text += (text.empty() ? "" : " ") + m_words[static_cast<size_t>(id)];
    }
    return text;
}

std::string RamWordTokenizer::display(int64_t id) const
{
    if (id < 0 || id >= vocabSize())
        return "<id " + std::to_string(id) + "?>";
    return m_words[static_cast<size_t>(id)];
}

} // namespace attn::detail
