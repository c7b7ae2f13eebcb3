// SPDX-License-Identifier: GPL-3.0-or-later
// Every model the repository holds as files, for tests that go over all of them: the bundled models and the reference
// fixtures (attnscope folders), the Hugging Face folders, the CoPE paper's checkpoints and the state_dict files that
// open with a sidecar. Each was written by code other than the table it is checked against (the trainer's and init's
// writer, PyTorch, transformers' save_pretrained, the CoPE code's torch.save).
#pragma once

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

namespace attn::test {

struct FixtureModels {
    std::vector<std::string> attnscope; ///< folders with config.json and model.safetensors in attnscope's layout
    std::vector<std::string> imported; ///< Hugging Face folders and .pt files, translated to attnscope's names
};

inline FixtureModels fixtureModels()
{
    namespace fs = std::filesystem;
    const fs::path data(ATTNSCOPE_TEST_DATA_DIR);
    FixtureModels out;
    auto sortedEntries = [](const fs::path& dir) {
        std::vector<fs::path> entries;
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(dir, ec))
            entries.push_back(entry.path());
        std::sort(entries.begin(), entries.end());
        return entries;
    };
    for (const fs::path& root : {data / ".." / ".." / "resources" / "models", data / "reference"})
        for (const fs::path& dir : sortedEntries(root))
            if (fs::exists(dir / "config.json") && fs::exists(dir / "model.safetensors"))
                out.attnscope.push_back(fs::weakly_canonical(dir).string());
    for (const fs::path& dir : sortedEntries(data / "hf"))
        if (fs::exists(dir / "config.json"))
            out.imported.push_back(dir.string());
    for (const fs::path& dir : sortedEntries(data / "ram-cope"))
        for (const fs::path& file : sortedEntries(dir))
            if (file.extension() == ".pt")
                out.imported.push_back(file.string());
    for (const fs::path& file : sortedEntries(data / "state-dict"))
        if (file.extension() == ".pt")
            out.imported.push_back(file.string());
    return out;
}

} // namespace attn::test
