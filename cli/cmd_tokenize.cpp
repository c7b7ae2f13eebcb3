// SPDX-License-Identifier: GPL-3.0-or-later
// attnscope-cli tokenize: token ids, display strings and byte spans of a text, with a model's tokenizer or a bare
// Hugging Face tokenizer.json folder. Needs no weights.
#include "cli_common.h"

#include "attnscope/config.h"
#include "attnscope/fileio.h"
#include "attnscope/hf_tokenizer.h"
#include "attnscope/tokenizer.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>
#include <sstream>

namespace attn::cli {

namespace {

// tokenizer.json when the folder has one, else the tokenizer that the model's config.json names.
Result<std::unique_ptr<Tokenizer>> tokenizerFor(const std::string& dir)
{
    std::error_code ec;
    if (std::filesystem::is_regular_file(std::filesystem::path(dir) / "tokenizer.json", ec))
        return loadHfTokenizer(dir);
    const std::string configPath = (std::filesystem::path(dir) / "config.json").string();
    if (!std::filesystem::is_regular_file(configPath, ec))
        return Status::error(dir + " holds neither tokenizer.json nor a model's config.json");
    auto config = loadConfig(configPath);
    if (!config)
        return config.status();
    return makeTokenizer(config->tokenizer, dir);
}

nlohmann::json encodingJson(const Tokenizer& tok, const Encoding& enc)
{
    nlohmann::json out;
    out["ids"] = enc.ids;
    out["tokens"] = nlohmann::json::array();
    out["spans"] = nlohmann::json::array();
    for (size_t i = 0; i < enc.ids.size(); ++i) {
        out["tokens"].push_back(tok.display(enc.ids[i]));
        out["spans"].push_back({enc.spans[i].begin, enc.spans[i].end});
    }
    return out;
}

} // namespace

void registerTokenize(CLI::App& app, int& exitCode)
{
    struct Args {
        std::string dir, text, textFile, jsonl;
        bool noSpecial = false, asJson = false;
    };
    auto args = std::make_shared<Args>();
    CLI::App* cmd = app.add_subcommand("tokenize", "show the token ids, labels and byte spans of a text");
    cmd->add_option("DIR", args->dir, "model directory, or a folder with tokenizer.json [+ tokenizer_config.json]")
        ->required();
    auto* text = cmd->add_option("--text", args->text, "the text to tokenize");
    auto* file = cmd->add_option("--text-file", args->textFile, "read the text from this file (as is)");
    auto* jsonl = cmd->add_option("--jsonl", args->jsonl, "one JSON string per line in; one JSON object per line out");
    text->excludes(file)->excludes(jsonl);
    file->excludes(jsonl);
    cmd->add_flag(
        "--no-special", args->noSpecial, "leave out the tokens the tokenizer adds (add_special_tokens=False)");
    cmd->add_flag("--json", args->asJson, "print {\"ids\", \"tokens\", \"spans\"} as one JSON object");
    cmd->callback([args, text, file, jsonl, &exitCode] {
        if (text->count() + file->count() + jsonl->count() != 1) {
            exitCode = fail("give one of --text, --text-file or --jsonl");
            return;
        }
        auto tok = tokenizerFor(args->dir);
        if (!tok) {
            exitCode = fail(tok.message());
            return;
        }
        const bool special = !args->noSpecial;
        if (jsonl->count()) {
            auto lines = readFile(args->jsonl);
            if (!lines) {
                exitCode = fail(lines.message());
                return;
            }
            std::istringstream in(*lines);
            std::string line;
            size_t lineNo = 0;
            while (std::getline(in, line)) {
                ++lineNo;
                if (line.empty())
                    continue;
                nlohmann::json value;
                try {
                    value = nlohmann::json::parse(line);
                } catch (const nlohmann::json::exception& e) {
                    exitCode = fail(args->jsonl + " line " + std::to_string(lineNo) + ": not JSON: " + e.what());
                    return;
                }
                if (!value.is_string()) {
                    exitCode = fail(args->jsonl + " line " + std::to_string(lineNo) + ": expected a JSON string");
                    return;
                }
                auto enc = (*tok)->encodeChecked(value.get<std::string>(), special);
                if (!enc) {
                    exitCode = fail(args->jsonl + " line " + std::to_string(lineNo) + ": " + enc.message());
                    return;
                }
                std::cout << encodingJson(**tok, *enc).dump() << "\n";
            }
            return;
        }
        std::string input = args->text;
        if (file->count()) {
            auto read = readFile(args->textFile);
            if (!read) {
                exitCode = fail(read.message());
                return;
            }
            input = std::move(read).value();
        }
        auto enc = (*tok)->encodeChecked(input, special);
        if (!enc) {
            exitCode = fail(enc.message());
            return;
        }
        if (args->asJson) {
            std::cout << encodingJson(**tok, *enc).dump() << "\n";
            return;
        }
        for (size_t i = 0; i < enc->ids.size(); ++i)
            std::cout << i << '\t' << enc->ids[i] << '\t' << (*tok)->display(enc->ids[i]) << "\t["
                      << enc->spans[i].begin << ", " << enc->spans[i].end << ")\n";
    });
}

} // namespace attn::cli
