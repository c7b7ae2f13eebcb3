// SPDX-License-Identifier: GPL-3.0-or-later
#include "hf/hf_index.h"

#include "json_limits.h"

#include <nlohmann/json.hpp>

namespace attn::hf {

Result<std::map<std::string, std::string>> parseSafetensorsIndex(const std::string& text, const std::string& origin)
{
    try {
        nlohmann::json root;
        // A tensor listed twice could name two shards; refusing duplicates keeps the index unambiguous.
        if (Status parsed = detail::parseUntrustedJson(text, {}, root); !parsed)
            return Status::error(origin + ": " + parsed.message());
        if (!root.is_object() || !root.contains("weight_map") || !root["weight_map"].is_object())
            return Status::error(origin + ": no \"weight_map\" object");
        std::map<std::string, std::string> shardOf;
        for (const auto& [name, value] : root["weight_map"].items()) {
            const std::string where = origin + ": weight_map[\"" + detail::textExcerpt(name, 120) + "\"]";
            if (!value.is_string())
                return Status::error(where + " is not a file name (got " + detail::jsonExcerpt(value) + ")");
            const std::string shard = value.get<std::string>();
            if (shard.empty() || shard.find('/') != std::string::npos || shard.find('\0') != std::string::npos
                || shard == "." || shard == "..")
                return Status::error(
                    where + " = \"" + detail::textExcerpt(shard, 120) + "\" is not a file name in this folder");
            shardOf[name] = shard;
        }
        if (shardOf.empty())
            return Status::error(origin + ": weight_map is empty");
        return shardOf;
    } catch (const std::exception& e) {
        return Status::error(origin + ": " + e.what());
    }
}

} // namespace attn::hf
