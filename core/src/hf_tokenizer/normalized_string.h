// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// A piece of the prompt as the pipeline rewrites it, with, for every byte of the rewritten text, the byte range of
// the prompt character it came from: the same bookkeeping as tokenizers' NormalizedString, so that every token's
// span points into the original prompt. Alignments here are absolute prompt offsets (tokenizers keeps them relative
// to the piece and adds the piece's shift; the result is the same).

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace attn::hf {

using Span = std::pair<size_t, size_t>;

/// One output character of a transformation and how it relates to the input, as in tokenizers' transform():
/// 0 replaces the next input character, +1 is inserted (aligned with the input byte before it), -n replaces the
/// next input character and removes the n after it.
struct CharChange {
    char32_t c;
    int change;
};

/// A run of the subject: a pattern match or the gap between two.
struct Segment {
    size_t begin;
    size_t end;
    bool isMatch;
};

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

class NormalizedString {
public:
    /// The prompt bytes [begin, end) of valid UTF-8 text, not yet rewritten.
    NormalizedString(const std::string& prompt, size_t begin, size_t end);

    const std::string& get() const { return m_text; }
    bool empty() const { return m_text.empty(); }
    /// The prompt range this piece covers before any rewriting.
    Span original() const { return m_original; }
    /// The prompt range of the normalized bytes [begin, end), begin < end.
    Span originalSpan(size_t begin, size_t end) const;

    void transformRange(size_t begin, size_t end, const std::vector<CharChange>& dest, size_t initialOffset);
    void transform(const std::vector<CharChange>& dest, size_t initialOffset);
    void prepend(const std::string& text);
    /// Replaces every match (Segment::isMatch) of a pattern found in get() by content.
    void replace(const std::vector<Segment>& matches, const std::string& content);
    void lrstrip(bool left, bool right);

    NormalizedString slice(size_t begin, size_t end) const;
    /// Splits on a pattern's segments of get() (see tokenizers' NormalizedString::split); empty pieces are kept,
    /// callers drop them.
    std::vector<NormalizedString> split(const std::vector<Segment>& segments, SplitBehavior behavior) const;

private:
    NormalizedString() = default;
    std::string m_text;
    std::vector<Span> m_align;
    Span m_original {0, 0};
};

/// Matches and gaps of a literal in text, as tokenizers' Pattern::find_matches lists them.
std::vector<Segment> literalSegments(const std::string& text, const std::string& literal);
/// The same for a list of regex matches.
std::vector<Segment> segmentsFromMatches(
    const std::string& text, const std::vector<std::pair<size_t, size_t>>& matches);
/// Flips isMatch (tokenizers' Invert pattern).
void invertSegments(std::vector<Segment>& segments);

} // namespace attn::hf
