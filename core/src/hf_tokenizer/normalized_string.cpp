// SPDX-License-Identifier: GPL-3.0-or-later
#include "hf_tokenizer/normalized_string.h"

#include "hf_tokenizer/unicode.h"
#include "hf_tokenizer/utf8.h"

#include <algorithm>

namespace attn::hf {

NormalizedString::NormalizedString(const std::string& prompt, size_t begin, size_t end)
    : m_text(prompt.substr(begin, end - begin))
    , m_original(begin, end)
{
    m_align.reserve(m_text.size());
    size_t pos = begin;
    while (pos < end) {
        const size_t length = utf8Length(static_cast<unsigned char>(prompt[pos]));
        for (size_t i = 0; i < length; ++i)
            m_align.emplace_back(pos, pos + length);
        pos += length;
    }
}

Span NormalizedString::originalSpan(size_t begin, size_t end) const
{
    if (begin >= end || end > m_align.size())
        return {m_original.first, m_original.first};
    return {m_align[begin].first, m_align[end - 1].second};
}

void NormalizedString::transformRange(
    size_t begin, size_t end, const std::vector<CharChange>& dest, size_t initialOffset)
{
    // Walks the replaced input characters alongside the output, as tokenizers' transform_range does, so that every
    // output byte inherits the alignment of the input character it stands for.
    std::vector<size_t> inputLengths;
    for (size_t pos = begin; pos < end;)
        inputLengths.push_back(utf8Length(static_cast<unsigned char>(m_text[pos]))), pos += inputLengths.back();
    size_t nextInput = 0;
    size_t offset = begin;
    for (; nextInput < initialOffset && nextInput < inputLengths.size(); ++nextInput)
        offset += inputLengths[nextInput];

    std::string out;
    std::vector<Span> align;
    for (const CharChange& item : dest) {
        Span alignment;
        if (item.change > 0)
            alignment = offset < 1 || offset > m_align.size() ? Span {m_original.first, m_original.first}
                                                              : m_align[offset - 1];
        else if (offset < m_align.size())
            alignment = m_align[offset];
        else
            alignment = m_align.empty() ? Span {m_original.first, m_original.first} : m_align.back();
        if (item.change <= 0 && nextInput < inputLengths.size())
            offset += inputLengths[nextInput++];
        for (int removed = 0; removed < -item.change && nextInput < inputLengths.size(); ++removed)
            offset += inputLengths[nextInput++];
        const size_t before = out.size();
        appendUtf8(out, item.c);
        align.insert(align.end(), out.size() - before, alignment);
    }
    m_text.replace(begin, end - begin, out);
    m_align.erase(
        m_align.begin() + static_cast<std::ptrdiff_t>(begin), m_align.begin() + static_cast<std::ptrdiff_t>(end));
    m_align.insert(m_align.begin() + static_cast<std::ptrdiff_t>(begin), align.begin(), align.end());
}

void NormalizedString::transform(const std::vector<CharChange>& dest, size_t initialOffset)
{
    transformRange(0, m_text.size(), dest, initialOffset);
}

void NormalizedString::prepend(const std::string& text)
{
    if (m_text.empty() || text.empty())
        return;
    size_t pos = 0;
    const char32_t first = decodeUtf8(m_text, pos);
    std::vector<CharChange> dest;
    for (size_t i = 0; i < text.size();)
        dest.push_back({decodeUtf8(text, i), dest.empty() ? 0 : 1});
    dest.push_back({first, 1});
    transformRange(0, pos, dest, 0);
}

void NormalizedString::replace(const std::vector<Segment>& matches, const std::string& content)
{
    std::vector<CharChange> dest;
    for (size_t i = 0; i < content.size();)
        dest.push_back({decodeUtf8(content, i), 1});
    // Offsets of later matches move by the size change of the earlier ones.
    long shift = 0;
    for (const Segment& s : matches) {
        if (!s.isMatch)
            continue;
        const size_t begin = static_cast<size_t>(static_cast<long>(s.begin) + shift);
        const size_t end = static_cast<size_t>(static_cast<long>(s.end) + shift);
        size_t removedChars = 0;
        for (size_t pos = begin; pos < end; pos += utf8Length(static_cast<unsigned char>(m_text[pos])))
            ++removedChars;
        transformRange(begin, end, dest, removedChars);
        shift += static_cast<long>(content.size()) - static_cast<long>(s.end - s.begin);
    }
}

void NormalizedString::lrstrip(bool left, bool right)
{
    std::vector<char32_t> chars;
    for (size_t pos = 0; pos < m_text.size();)
        chars.push_back(decodeUtf8(m_text, pos));
    size_t leading = 0;
    while (left && leading < chars.size() && isWhitespace(chars[leading]))
        ++leading;
    size_t trailing = 0;
    while (right && trailing < chars.size() && isWhitespace(chars[chars.size() - 1 - trailing]))
        ++trailing;
    if (leading == 0 && trailing == 0)
        return;
    std::vector<CharChange> dest;
    for (size_t i = 0; i < chars.size(); ++i) {
        if (i < leading || i + trailing >= chars.size())
            continue;
        // tokenizers compares the character index with the BYTE length here; kept for identical offsets.
        const bool lastKept = i + trailing + 1 == m_text.size();
        dest.push_back({chars[i], lastKept ? -static_cast<int>(trailing) : 0});
    }
    transform(dest, leading);
}

NormalizedString NormalizedString::slice(size_t begin, size_t end) const
{
    NormalizedString piece;
    piece.m_text = m_text.substr(begin, end - begin);
    piece.m_align.assign(
        m_align.begin() + static_cast<std::ptrdiff_t>(begin), m_align.begin() + static_cast<std::ptrdiff_t>(end));
    piece.m_original = begin < end ? originalSpan(begin, end) : Span {m_original.first, m_original.first};
    return piece;
}

std::vector<NormalizedString> NormalizedString::split(
    const std::vector<Segment>& segments, SplitBehavior behavior) const
{
    // (begin, end, remove) per output piece.
    struct Cut {
        size_t begin, end;
        bool remove;
    };
    std::vector<Cut> cuts;
    bool previousMatch = false;
    switch (behavior) {
    case SplitBehavior::Isolated:
        for (const Segment& s : segments)
            cuts.push_back({s.begin, s.end, false});
        break;
    case SplitBehavior::Removed:
        for (const Segment& s : segments)
            cuts.push_back({s.begin, s.end, s.isMatch});
        break;
    case SplitBehavior::Contiguous:
        for (const Segment& s : segments) {
            if (s.isMatch == previousMatch && !cuts.empty())
                cuts.back().end = s.end;
            else
                cuts.push_back({s.begin, s.end, false});
            previousMatch = s.isMatch;
        }
        break;
    case SplitBehavior::MergedWithPrevious:
        for (const Segment& s : segments) {
            if (s.isMatch && !previousMatch && !cuts.empty())
                cuts.back().end = s.end;
            else
                cuts.push_back({s.begin, s.end, false});
            previousMatch = s.isMatch;
        }
        break;
    case SplitBehavior::MergedWithNext:
        for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
            if (it->isMatch && !previousMatch && !cuts.empty())
                cuts.back().begin = it->begin;
            else
                cuts.push_back({it->begin, it->end, false});
            previousMatch = it->isMatch;
        }
        std::reverse(cuts.begin(), cuts.end());
        break;
    }
    std::vector<NormalizedString> pieces;
    for (const Cut& cut : cuts)
        if (!cut.remove)
            pieces.push_back(slice(cut.begin, cut.end));
    return pieces;
}

std::vector<Segment> literalSegments(const std::string& text, const std::string& literal)
{
    std::vector<std::pair<size_t, size_t>> matches;
    if (!literal.empty())
        for (size_t at = text.find(literal); at != std::string::npos; at = text.find(literal, at + literal.size()))
            matches.emplace_back(at, at + literal.size());
    return segmentsFromMatches(text, matches);
}

std::vector<Segment> segmentsFromMatches(const std::string& text, const std::vector<std::pair<size_t, size_t>>& matches)
{
    if (text.empty())
        return {{0, 0, false}};
    std::vector<Segment> segments;
    size_t previous = 0;
    for (const auto& [begin, end] : matches) {
        if (previous != begin)
            segments.push_back({previous, begin, false});
        segments.push_back({begin, end, true});
        previous = end;
    }
    if (previous != text.size())
        segments.push_back({previous, text.size(), false});
    return segments;
}

void invertSegments(std::vector<Segment>& segments)
{
    for (Segment& s : segments)
        s.isMatch = !s.isMatch;
}

} // namespace attn::hf
