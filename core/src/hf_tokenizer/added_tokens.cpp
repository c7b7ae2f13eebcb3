// SPDX-License-Identifier: GPL-3.0-or-later
#include "hf_tokenizer/added_tokens.h"

#include "hf_tokenizer/unicode.h"
#include "hf_tokenizer/utf8.h"

#include <algorithm>

namespace attn::hf {

namespace {

char32_t lastChar(const std::string& text, size_t end)
{
    size_t begin = end - 1;
    while (begin > 0 && (static_cast<unsigned char>(text[begin]) & 0xC0) == 0x80)
        --begin;
    size_t pos = begin;
    return decodeUtf8(text, pos);
}

} // namespace

Status AddedVocabulary::build(std::vector<AddedToken> tokens, const Normalizer* normalizer)
{
    m_tokens = std::move(tokens);
    for (size_t i = 0; i < m_tokens.size(); ++i) {
        const AddedToken& token = m_tokens[i];
        if (token.content.empty())
            continue;
        std::string pattern = token.content;
        if (token.normalized && normalizer) {
            NormalizedString text(token.content, 0, token.content.size());
            if (Status s = normalizer->normalize(text); !s)
                return s;
            pattern = text.get();
        }
        if (pattern.empty())
            continue;
        Matcher& matcher = token.normalized ? m_normalized : m_raw;
        matcher.byFirstByte[static_cast<unsigned char>(pattern[0])].emplace_back(pattern, i);
        matcher.empty = false;
    }
    for (Matcher* matcher : {&m_raw, &m_normalized})
        for (auto& list : matcher->byFirstByte)
            std::stable_sort(
                list.begin(), list.end(), [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    return Status::ok();
}

std::vector<Piece> AddedVocabulary::split(const NormalizedString& text, bool normalizedPass) const
{
    const Matcher& matcher = normalizedPass ? m_normalized : m_raw;
    const std::string& s = text.get();
    std::vector<Piece> pieces;
    if (matcher.empty || s.empty()) {
        pieces.push_back({text, std::nullopt});
        return pieces;
    }
    size_t pieceStart = 0;
    size_t pos = 0;
    while (pos < s.size()) {
        const auto& candidates = matcher.byFirstByte[static_cast<unsigned char>(s[pos])];
        const std::pair<std::string, size_t>* found = nullptr;
        for (const auto& candidate : candidates)
            if (s.compare(pos, candidate.first.size(), candidate.first) == 0) {
                found = &candidate;
                break;
            }
        if (!found) {
            pos += utf8Length(static_cast<unsigned char>(s[pos]));
            continue;
        }
        const AddedToken& token = m_tokens[found->second];
        size_t start = pos;
        size_t stop = pos + found->first.size();
        pos = stop; // the scan goes on after this match even when single_word rejects it
        if (token.singleWord) {
            const bool wordBefore = start > 0 && isWordChar(lastChar(s, start));
            size_t next = stop;
            const bool wordAfter = stop < s.size() && isWordChar(decodeUtf8(s, next));
            if (wordBefore || wordAfter)
                continue;
        }
        if (token.lstrip) {
            size_t newStart = start;
            while (newStart > 0 && isWhitespace(lastChar(s, newStart))) {
                --newStart;
                while (newStart > 0 && (static_cast<unsigned char>(s[newStart]) & 0xC0) == 0x80)
                    --newStart;
            }
            start = std::max(newStart, pieceStart);
        }
        if (token.rstrip) {
            size_t next = stop;
            while (next < s.size()) {
                size_t after = next;
                if (!isWhitespace(decodeUtf8(s, after)))
                    break;
                next = after;
            }
            stop = next; // the scan still goes on from the match's own end, as the Aho-Corasick iterator does
        }
        if (pieceStart < start)
            pieces.push_back({text.slice(pieceStart, start), std::nullopt});
        NormalizedString match = text.slice(start, stop);
        const std::string value = match.get();
        pieces.push_back({std::move(match), std::vector<Token> {{token.id, value, 0, stop - start}}});
        pieceStart = stop;
    }
    if (pieceStart < s.size())
        pieces.push_back({text.slice(pieceStart, s.size()), std::nullopt});
    return pieces;
}

} // namespace attn::hf
