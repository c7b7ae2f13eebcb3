// SPDX-License-Identifier: GPL-3.0-or-later
#include "attnscope/allocation.h"

#include <exception>
#include <map>

namespace attn {

namespace {

bool isSpace(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

} // namespace

int64_t countWords(const std::string& text)
{
    int64_t n = 0;
    bool inWord = false;
    for (char c : text) {
        n += (!isSpace(c) && !inWord) ? 1 : 0;
        inWord = !isSpace(c);
    }
    return n;
}

Result<std::pair<int64_t, int64_t>> wordRange(const std::string& text, size_t charBegin, size_t charEnd)
{
    if (charEnd <= charBegin || charEnd > text.size())
        return Status::error("character range [" + std::to_string(charBegin) + ", " + std::to_string(charEnd)
            + ") is empty or outside the " + std::to_string(text.size()) + "-character text");
    // Word w covers its characters; the range's words are those with a character inside it.
    int64_t word = -1, first = -1, last = -1;
    bool inWord = false;
    for (size_t i = 0; i < charEnd; ++i) {
        const bool space = isSpace(text[i]);
        if (!space && !inWord)
            ++word;
        inWord = !space;
        if (!space && i >= charBegin) {
            if (first < 0)
                first = word;
            last = word;
        }
    }
    if (first < 0)
        return Status::error("character range [" + std::to_string(charBegin) + ", " + std::to_string(charEnd)
            + ") holds only whitespace");
    return std::make_pair(first, last + 1);
}

Result<SpanAttention> captureAllocation(const CaptureResult& capture, const AllocationLayout& layout)
{
    try {
        std::map<int64_t, std::vector<SpanAttention>> byLayer;
        // One attention map per (layer, head): DN beats D beats A, so a capture holding several kinds of one
        // DIFF head is still counted once, and D is only divided by 1 - lambda here when DN is absent.
        std::map<std::pair<int64_t, int64_t>, const AttentionMap*> chosen;
        auto rank = [](MapKind k) { return k == MapKind::DN ? 3 : k == MapKind::D ? 2 : k == MapKind::A ? 1 : 0; };
        for (const AttentionMap& m : capture.maps) {
            if (rank(m.kind) == 0)
                continue;
            const AttentionMap*& slot = chosen[{m.layer, m.head}];
            if (!slot || rank(m.kind) > rank(slot->kind))
                slot = &m;
        }
        if (chosen.empty())
            return Status::error("the capture holds no attention map (A, D or DN) to measure the allocation on");
        for (const auto& [key, map] : chosen) {
            double lambda = kNoMetric;
            if (map->kind == MapKind::D) {
                if (key.first < 0 || static_cast<size_t>(key.first) >= capture.lambda.size())
                    return Status::error("the capture has no lambda for layer " + std::to_string(key.first)
                        + ", needed to normalise its D map");
                lambda = capture.lambda[static_cast<size_t>(key.first)];
            }
            auto head
                = spanAttention(*map, lambda, layout.queryRows, layout.spanBegin, layout.spanEnd, layout.noiseEnd);
            if (!head)
                return Status::error("layer " + std::to_string(key.first) + " head " + std::to_string(key.second) + ": "
                    + head.message());
            if (!layout.firstTokenIsBos) {
                // Token 0 is a context word, not the paper's BOS: it is noise like any other context word.
                head->noise += head->sink;
                head->sink = 0.0;
            }
            byLayer[key.first].push_back(*head);
        }
        return paperAverage(byLayer);
    } catch (const std::exception& e) {
        return Status::error(std::string("attention allocation failed: ") + e.what());
    }
}

} // namespace attn
