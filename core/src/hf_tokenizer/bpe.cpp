// SPDX-License-Identifier: GPL-3.0-or-later
// The BPE model as tokenizers runs it: characters (with byte fallback and unk), then the lowest-ranked adjacent
// merge first, leftmost on ties, with a priority queue; a cache per piece.
#include "hf_tokenizer/components.h"
#include "hf_tokenizer/utf8.h"
#include "json_limits.h"

#include <cstdio>
#include <mutex>
#include <queue>

namespace attn::hf {

namespace {

struct PairHash {
    size_t operator()(const std::pair<int64_t, int64_t>& p) const
    {
        return std::hash<int64_t>()(p.first * 1000003 + p.second);
    }
};

struct Symbol {
    int64_t id;
    long prev;
    long next;
    size_t length; // bytes of the piece it covers; 0 once merged into its left neighbour
};

struct MergeCandidate {
    size_t pos;
    uint32_t rank;
    int64_t newId;
    bool operator<(const MergeCandidate& other) const
    {
        // std::priority_queue pops the largest: make that the lowest rank, then the leftmost position.
        if (rank != other.rank)
            return rank > other.rank;
        return pos > other.pos;
    }
};

class Bpe final : public Model {
public:
    std::unordered_map<std::string, int64_t> vocabMap;
    std::unordered_map<int64_t, std::string> reverse;
    std::unordered_map<std::pair<int64_t, int64_t>, std::pair<uint32_t, int64_t>, PairHash> merges;
    std::optional<std::string> unk;
    std::string prefix, suffix;
    bool fuseUnk = false, byteFallback = false, ignoreMerges = false;

    Result<std::vector<Token>> tokenize(const std::string& piece) const override
    {
        if (piece.empty())
            return std::vector<Token> {};
        if (ignoreMerges) {
            auto it = vocabMap.find(piece);
            if (it != vocabMap.end())
                return std::vector<Token> {{it->second, piece, 0, piece.size()}};
        }
        {
            std::lock_guard<std::mutex> lock(m_cacheMutex);
            auto hit = m_cache.find(piece);
            if (hit != m_cache.end())
                return hit->second;
        }
        auto tokens = mergeWord(piece);
        if (!tokens)
            return tokens;
        std::lock_guard<std::mutex> lock(m_cacheMutex);
        if (m_cache.size() < 10000)
            m_cache.emplace(piece, *tokens);
        return tokens;
    }

    const std::unordered_map<std::string, int64_t>& vocab() const override { return vocabMap; }

private:
    mutable std::mutex m_cacheMutex;
    mutable std::unordered_map<std::string, std::vector<Token>> m_cache;

    Result<std::vector<Token>> mergeWord(const std::string& word) const
    {
        std::vector<Symbol> symbols;
        auto add = [&](int64_t id, size_t length) {
            const long index = static_cast<long>(symbols.size());
            symbols.push_back({id, index - 1, index + 1, length});
        };
        // An unknown-token run waiting to be fused. Plain fields, not std::optional<pair>: GCC 12 -O3 warns
        // (maybe-uninitialized) through the optional's storage.
        bool hasPendingUnk = false;
        int64_t pendingUnkId = 0;
        size_t pendingUnkBytes = 0;
        for (size_t pos = 0; pos < word.size();) {
            const size_t begin = pos;
            decodeUtf8(word, pos);
            std::string s = word.substr(begin, pos - begin);
            const size_t byteLength = s.size();
            if (begin > 0)
                s = prefix + s;
            if (pos == word.size())
                s += suffix;
            auto it = vocabMap.find(s);
            if (it != vocabMap.end()) {
                if (hasPendingUnk) {
                    add(pendingUnkId, pendingUnkBytes);
                    hasPendingUnk = false;
                }
                add(it->second, byteLength);
                continue;
            }
            if (byteFallback) {
                std::vector<int64_t> byteIds;
                for (unsigned char b : s) {
                    char name[8];
                    std::snprintf(name, sizeof name, "<0x%02X>", b);
                    auto byteIt = vocabMap.find(name);
                    if (byteIt == vocabMap.end())
                        break;
                    byteIds.push_back(byteIt->second);
                }
                if (byteIds.size() == s.size()) {
                    // tokenizers adds the byte pieces without flushing a pending unk first; kept for identical ids.
                    for (int64_t id : byteIds)
                        add(id, 1);
                    continue;
                }
            }
            if (unk) {
                auto unkIt = vocabMap.find(*unk);
                if (unkIt == vocabMap.end())
                    return Status::error("tokenizer.json: model.unk_token '" + *unk + "' is not in model.vocab");
                if (hasPendingUnk && fuseUnk) {
                    pendingUnkBytes += byteLength;
                } else {
                    if (hasPendingUnk)
                        add(pendingUnkId, pendingUnkBytes);
                    hasPendingUnk = true;
                    pendingUnkId = unkIt->second;
                    pendingUnkBytes = byteLength;
                }
            }
        }
        if (hasPendingUnk)
            add(pendingUnkId, pendingUnkBytes);
        if (!symbols.empty())
            symbols.back().next = -1;
        mergeAll(symbols);

        std::vector<Token> tokens;
        size_t offset = 0;
        for (const Symbol& s : symbols) {
            if (s.length == 0)
                continue;
            auto name = reverse.find(s.id);
            tokens.push_back({s.id, name == reverse.end() ? std::string() : name->second, offset, offset + s.length});
            offset += s.length;
        }
        return tokens;
    }

    void mergeAll(std::vector<Symbol>& symbols) const
    {
        std::priority_queue<MergeCandidate> queue;
        for (size_t i = 0; i + 1 < symbols.size(); ++i) {
            auto it = merges.find({symbols[i].id, symbols[i + 1].id});
            if (it != merges.end())
                queue.push({i, it->second.first, it->second.second});
        }
        while (!queue.empty()) {
            const MergeCandidate top = queue.top();
            queue.pop();
            Symbol& left = symbols[top.pos];
            if (left.length == 0 || left.next == -1)
                continue;
            const auto nextPos = static_cast<size_t>(left.next);
            const Symbol right = symbols[nextPos];
            // A stale entry: the pair at this position changed since it was queued.
            auto current = merges.find({left.id, right.id});
            if (current == merges.end() || current->second.second != top.newId)
                continue;
            left.id = top.newId;
            left.length += right.length;
            left.next = right.next;
            symbols[nextPos].length = 0;
            if (right.next > -1 && static_cast<size_t>(right.next) < symbols.size())
                symbols[static_cast<size_t>(right.next)].prev = static_cast<long>(top.pos);
            if (left.prev >= 0) {
                auto before = merges.find({symbols[static_cast<size_t>(left.prev)].id, left.id});
                if (before != merges.end())
                    queue.push({static_cast<size_t>(left.prev), before->second.first, before->second.second});
            }
            if (left.next >= 0 && static_cast<size_t>(left.next) < symbols.size()) {
                auto after = merges.find({left.id, symbols[static_cast<size_t>(left.next)].id});
                if (after != merges.end())
                    queue.push({top.pos, after->second.first, after->second.second});
            }
        }
    }
};

std::optional<std::string> optionalString(const nlohmann::json& node, const char* key)
{
    if (!node.contains(key) || node[key].is_null())
        return std::nullopt;
    if (!node[key].is_string())
        return std::nullopt;
    return node[key].get<std::string>();
}

} // namespace

Result<std::unique_ptr<Model>> parseBpe(const nlohmann::json& node, const std::string& where)
{
    auto bpe = std::make_unique<Bpe>();
    if (!node.contains("vocab") || !node["vocab"].is_object())
        return fieldError(where + ".vocab", "missing or not an object of token -> id");
    for (auto it = node["vocab"].begin(); it != node["vocab"].end(); ++it) {
        if (!it.value().is_number_integer())
            return fieldError(where + ".vocab",
                "id of '" + detail::textExcerpt(it.key()) + "' is not an integer: " + detail::jsonExcerpt(it.value()));
        const auto id = it.value().get<int64_t>();
        if (id < 0 || id > INT32_MAX)
            return fieldError(where + ".vocab", "id " + std::to_string(id) + " of '" + it.key() + "' is out of range");
        auto [previous, inserted] = bpe->reverse.emplace(id, it.key());
        if (!inserted)
            return fieldError(where + ".vocab",
                "id " + std::to_string(id) + " is given to both '" + previous->second + "' and '" + it.key() + "'");
        bpe->vocabMap.emplace(it.key(), id);
    }
    bpe->unk = optionalString(node, "unk_token");
    bpe->prefix = optionalString(node, "continuing_subword_prefix").value_or("");
    bpe->suffix = optionalString(node, "end_of_word_suffix").value_or("");
    bpe->fuseUnk = node.value("fuse_unk", false);
    bpe->byteFallback = node.value("byte_fallback", false);
    bpe->ignoreMerges = node.value("ignore_merges", false);
    if (bpe->unk && !bpe->vocabMap.count(*bpe->unk))
        return fieldError(where + ".unk_token", "'" + *bpe->unk + "' is not in model.vocab");

    const nlohmann::json merges = node.value("merges", nlohmann::json::array());
    if (!merges.is_array())
        return fieldError(where + ".merges", "is not a list");
    uint32_t rank = 0;
    for (size_t i = 0; i < merges.size(); ++i) {
        const nlohmann::json& entry = merges[i];
        const std::string at = where + ".merges[" + std::to_string(i) + "]";
        std::string a, b;
        if (entry.is_string()) {
            const std::string line = entry.get<std::string>();
            if (line.rfind("#version", 0) == 0)
                continue;
            const size_t space = line.find(' ');
            if (space == std::string::npos)
                return fieldError(at, "\"" + line + "\" has no space between the two tokens");
            if (line.find(' ', space + 1) != std::string::npos)
                return fieldError(at, "\"" + line + "\" has more than one space");
            a = line.substr(0, space);
            b = line.substr(space + 1);
        } else if (entry.is_array() && entry.size() == 2 && entry[0].is_string() && entry[1].is_string()) {
            a = entry[0].get<std::string>();
            b = entry[1].get<std::string>();
        } else {
            return fieldError(at, "expected \"a b\" or [\"a\", \"b\"], got " + detail::jsonExcerpt(entry));
        }
        auto aId = bpe->vocabMap.find(a);
        auto bId = bpe->vocabMap.find(b);
        if (aId == bpe->vocabMap.end() || bId == bpe->vocabMap.end())
            return fieldError(
                at, "merge names token '" + (aId == bpe->vocabMap.end() ? a : b) + "', which is not in model.vocab");
        const std::string merged = a + (b.size() >= bpe->prefix.size() ? b.substr(bpe->prefix.size()) : b);
        auto newId = bpe->vocabMap.find(merged);
        if (newId == bpe->vocabMap.end())
            return fieldError(at, "the merged token '" + merged + "' is not in model.vocab");
        bpe->merges[{aId->second, bId->second}] = {rank++, newId->second};
    }
    return std::unique_ptr<Model>(std::move(bpe));
}

} // namespace attn::hf
