// SPDX-License-Identifier: GPL-3.0-or-later
#include "attnscope/tokenizer.h"

#include "attnscope/fileio.h"
#include "hf_tokenizer/utf8.h"
#include "json_limits.h"

#include <cstdio>
#include <exception>
#include <filesystem>
#include <unordered_map>
#include <utility>

namespace attn {

namespace {

std::string hexByte(unsigned char byte)
{
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", byte);
    return buf;
}

// One visible label for a byte that is whitespace or a control character; empty for any other byte.
std::string visibleControl(unsigned char byte)
{
    switch (byte) {
    case ' ':
        return "␣";
    case '\n':
        return "⏎";
    case '\t':
        return "⇥";
    case '\r':
        return "␍";
    default:
        if (byte < 0x20 || byte == 0x7F)
            return hexByte(byte);
        return {};
    }
}

std::string unknownIdLabel(int64_t id)
{
    return "<id " + std::to_string(id) + "?>";
}

// The byte offset of the first invalid UTF-8 sequence, if any: every tokenizer refuses such prompts the same way.
Status checkUtf8(const std::string& text)
{
    if (auto bad = hf::firstInvalidUtf8(text))
        return Status::error("prompt is not valid UTF-8 at byte " + std::to_string(*bad));
    return Status::ok();
}

bool isSpace(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

} // namespace

// ---------------------------------------------------------------------------------------------------
// ByteTokenizer

std::vector<int64_t> Tokenizer::encodeContinuation(const std::string& text) const
{
    std::vector<int64_t> ids = encode(text);
    if (!ids.empty() && bosId() && ids.front() == *bosId())
        ids.erase(ids.begin());
    return ids;
}

ByteTokenizer::ByteTokenizer(bool addBos)
    : m_addBos(addBos)
{
}

std::vector<int64_t> ByteTokenizer::encode(const std::string& text) const
{
    std::vector<int64_t> ids;
    ids.reserve(text.size() + 1);
    if (m_addBos)
        ids.push_back(kBos);
    for (char c : text)
        ids.push_back(static_cast<unsigned char>(c));
    return ids;
}

Result<Encoding> ByteTokenizer::encodeChecked(const std::string& text, bool addSpecialTokens) const
{
    if (Status s = checkUtf8(text); !s)
        return s;
    Encoding encoding;
    if (m_addBos && addSpecialTokens) {
        encoding.ids.push_back(kBos);
        encoding.spans.push_back({});
    }
    for (size_t i = 0; i < text.size(); ++i) {
        encoding.ids.push_back(static_cast<unsigned char>(text[i]));
        encoding.spans.push_back({i, i + 1});
    }
    return encoding;
}

std::string ByteTokenizer::decode(const std::vector<int64_t>& ids) const
{
    // Special and out-of-vocab ids carry no text; the bytes are returned as they are, so a UTF-8
    // character split across tokens comes back whole.
    std::string text;
    for (int64_t id : ids)
        if (id >= 0 && id < 256)
            text.push_back(static_cast<char>(static_cast<unsigned char>(id)));
    return text;
}

std::string ByteTokenizer::display(int64_t id) const
{
    switch (id) {
    case kBos:
        return "<bos>";
    case kEos:
        return "<eos>";
    case kPad:
        return "<pad>";
    default:
        break;
    }
    if (id < 0 || id >= 256)
        return unknownIdLabel(id);
    const auto byte = static_cast<unsigned char>(id);
    // A lone byte >= 0x80 is a fragment of a UTF-8 character and cannot be shown as text.
    if (byte >= 0x80)
        return hexByte(byte);
    std::string visible = visibleControl(byte);
    return visible.empty() ? std::string(1, static_cast<char>(byte)) : visible;
}

// ---------------------------------------------------------------------------------------------------
// WordTokenizer

struct WordTokenizer::Impl {
    std::vector<std::string> vocab;
    std::unordered_map<std::string, int64_t> index;
    int64_t unk = 0;
    std::optional<int64_t> bos, eos, pad;
    bool lowercase = true;
    bool addBos = false;

    std::optional<int64_t> find(const std::string& token) const
    {
        auto it = index.find(token);
        if (it == index.end())
            return std::nullopt;
        return it->second;
    }
};

WordTokenizer::WordTokenizer()
    : m(std::make_unique<Impl>())
{
}

WordTokenizer::~WordTokenizer() = default;

Result<std::unique_ptr<WordTokenizer>> WordTokenizer::fromVocab(
    std::vector<std::string> vocab, bool lowercase, bool addBos)
{
    try {
        std::unique_ptr<WordTokenizer> tok(new WordTokenizer());
        Impl& impl = *tok->m;
        for (size_t i = 0; i < vocab.size(); ++i) {
            const auto id = static_cast<int64_t>(i);
            if (vocab[i].empty())
                return Status::error("word vocabulary: token " + std::to_string(id) + " is empty");
            auto [it, inserted] = impl.index.emplace(vocab[i], id);
            if (!inserted)
                return Status::error("word vocabulary: token " + std::to_string(id) + " \""
                    + detail::textExcerpt(vocab[i], 80) + "\" duplicates token " + std::to_string(it->second));
        }
        impl.vocab = std::move(vocab);
        auto unk = impl.find("<unk>");
        if (!unk)
            return Status::error("word vocabulary has no \"<unk>\" token (unknown words need an id)");
        impl.unk = *unk;
        impl.bos = impl.find("<bos>");
        impl.eos = impl.find("<eos>");
        impl.pad = impl.find("<pad>");
        if (addBos && !impl.bos)
            return Status::error("word vocabulary has no \"<bos>\" token, but tokenizer.add_bos is true");
        impl.lowercase = lowercase;
        impl.addBos = addBos;
        return tok;
    } catch (const std::exception& e) {
        return Status::error(std::string("word vocabulary: ") + e.what());
    }
}

Result<std::unique_ptr<WordTokenizer>> WordTokenizer::fromVocabFile(
    const std::string& path, bool lowercase, bool addBos)
{
    try {
        // A word list of a million tokens is a few megabytes; the bound only stops a runaway file.
        Result<std::string> text = readRegularFile(path, uint64_t(256) << 20);
        if (!text)
            return text.status();
        // Line checks happen here rather than in fromVocab so that messages can name the line.
        std::vector<std::string> vocab;
        std::unordered_map<std::string, size_t> seenOnLine;
        const std::string& data = *text;
        size_t start = 0;
        size_t lineNo = 0;
        while (start < data.size()) {
            size_t end = data.find('\n', start);
            if (end == std::string::npos)
                end = data.size();
            std::string line = data.substr(start, end - start);
            start = end + 1;
            ++lineNo;
            if (!line.empty() && line.back() == '\r')
                line.pop_back();
            const std::string where = path + " line " + std::to_string(lineNo);
            if (line.empty())
                return Status::error(where + ": empty line (every line is one token; line " + std::to_string(lineNo)
                    + " would be id " + std::to_string(lineNo - 1) + ")");
            auto [it, inserted] = seenOnLine.emplace(line, lineNo);
            if (!inserted)
                return Status::error(where + ": duplicate token \"" + detail::textExcerpt(line, 80)
                    + "\" (first on line " + std::to_string(it->second) + ")");
            vocab.push_back(std::move(line));
        }
        auto tok = fromVocab(std::move(vocab), lowercase, addBos);
        if (!tok)
            return Status::error(path + ": " + tok.message());
        return tok;
    } catch (const std::exception& e) {
        return Status::error(path + ": " + e.what());
    }
}

std::vector<std::pair<std::string, TokenSpan>> WordTokenizer::splitWithSpans(const std::string& text) const
{
    std::vector<std::pair<std::string, TokenSpan>> words;
    std::string current;
    size_t start = 0;
    auto flush = [&](size_t end) {
        if (!current.empty())
            words.push_back({std::move(current), TokenSpan {start, end}});
        current.clear();
    };
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        // ASCII-only lower-casing: locale-independent, and the counting tasks are ASCII.
        if (m->lowercase && c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
        if (isSpace(c)) {
            flush(i);
        } else if (c == '.' || c == ',' || c == '?') {
            flush(i);
            words.push_back({std::string(1, c), TokenSpan {i, i + 1}});
        } else {
            if (current.empty())
                start = i;
            current.push_back(c);
        }
    }
    flush(text.size());
    return words;
}

std::vector<std::string> WordTokenizer::split(const std::string& text) const
{
    std::vector<std::string> words;
    for (auto& [word, span] : splitWithSpans(text))
        words.push_back(std::move(word));
    return words;
}

std::vector<int64_t> WordTokenizer::encode(const std::string& text) const
{
    std::vector<int64_t> ids;
    if (m->addBos && m->bos)
        ids.push_back(*m->bos);
    for (const auto& word : split(text))
        ids.push_back(m->find(word).value_or(m->unk));
    return ids;
}

Result<Encoding> WordTokenizer::encodeChecked(const std::string& text, bool addSpecialTokens) const
{
    if (Status s = checkUtf8(text); !s)
        return s;
    Encoding encoding;
    if (addSpecialTokens && m->addBos && m->bos) {
        encoding.ids.push_back(*m->bos);
        encoding.spans.push_back({});
    }
    for (const auto& [word, span] : splitWithSpans(text)) {
        encoding.ids.push_back(m->find(word).value_or(m->unk));
        encoding.spans.push_back(span);
    }
    return encoding;
}

std::string WordTokenizer::decode(const std::vector<int64_t>& ids) const
{
    std::string text;
    for (int64_t id : ids) {
        if (id < 0 || id >= vocabSize() || id == m->bos || id == m->eos || id == m->pad)
            continue;
        if (!text.empty())
            text += ' ';
        text += m->vocab[static_cast<size_t>(id)];
    }
    return text;
}

std::string WordTokenizer::display(int64_t id) const
{
    if (id < 0 || id >= vocabSize())
        return unknownIdLabel(id);
    std::string out;
    for (char c : m->vocab[static_cast<size_t>(id)]) {
        // Bytes >= 0x80 stay: in a word vocabulary they form whole UTF-8 characters.
        std::string visible = visibleControl(static_cast<unsigned char>(c));
        if (visible.empty())
            out.push_back(c);
        else
            out += visible;
    }
    return out;
}

int64_t WordTokenizer::vocabSize() const
{
    return static_cast<int64_t>(m->vocab.size());
}

std::optional<int64_t> WordTokenizer::bosId() const
{
    return m->bos;
}

std::optional<int64_t> WordTokenizer::eosId() const
{
    return m->eos;
}

const std::vector<std::string>& WordTokenizer::vocab() const
{
    return m->vocab;
}

// ---------------------------------------------------------------------------------------------------

Result<std::unique_ptr<Tokenizer>> makeTokenizer(const TokenizerConfig& config, const std::string& modelDir)
{
    try {
        if (config.type == TokenizerType::Bytes)
            return std::unique_ptr<Tokenizer>(std::make_unique<ByteTokenizer>(config.addBos));
        if (config.vocabFile.empty())
            return Status::error("word tokenizer: config.json names no vocab file (tokenizer.vocab)");
        const std::string path = (std::filesystem::path(modelDir) / config.vocabFile).string();
        std::error_code ec;
        // Only a missing file is "not found"; a directory or FIFO in its place gets readRegularFile's message.
        if (!std::filesystem::exists(path, ec))
            return Status::error("word tokenizer: vocab file not found: " + path + " (named by tokenizer.vocab)");
        auto word = WordTokenizer::fromVocabFile(path, config.lowercase, config.addBos);
        if (!word)
            return word.status();
        return std::unique_ptr<Tokenizer>(std::move(word).value());
    } catch (const std::exception& e) {
        return Status::error(std::string("tokenizer: ") + e.what());
    }
}

} // namespace attn
