// SPDX-License-Identifier: GPL-3.0-or-later
// Opening a model without loading it: which format a path holds, the config in the engine's terms, and one recipe per
// engine tensor. Each format's translation lives in its own file (hf/, pt/); this file holds what they share.
#include "attnscope/model_source.h"

#include "attnscope/fileio.h"
#include "attnscope/model_format.h"
#include "attnscope/safetensors.h"
#include "json_limits.h"
#include "model_source_formats.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>

namespace attn {

namespace fs = std::filesystem;

int64_t StoredTensor::numel() const
{
    int64_t n = 1;
    for (int64_t s : shape)
        n *= s;
    return n;
}

const StoredTensor* ModelSource::find(const std::string& storedName) const
{
    for (const StoredTensor& t : stored)
        if (t.name == storedName)
            return &t;
    return nullptr;
}

int64_t ModelSource::storedBytes() const
{
    std::set<std::string> used;
    for (const auto& [name, recipe] : recipes)
        used.insert(recipe.source);
    int64_t bytes = 0;
    for (const std::string& name : used)
        if (const StoredTensor* t = find(name))
            bytes += t->numel() * static_cast<int64_t>(dtypeSize(t->dtype));
    return bytes;
}

Result<std::vector<int64_t>> recipeShape(const TensorRecipe& recipe, const StoredTensor& stored)
{
    std::vector<int64_t> shape = stored.shape;
    if (recipe.transpose) {
        if (shape.size() != 2)
            return Status::error("is " + shapeToString(shape) + ", not a matrix to transpose");
        std::swap(shape[0], shape[1]);
    }
    if (!recipe.rows.empty()) {
        if (shape.empty())
            return Status::error("is a scalar, it has no rows to take");
        int64_t rows = 0;
        for (const RowRange& r : recipe.rows) {
            if (r.begin < 0 || r.count < 0 || r.begin > shape[0] - r.count)
                return Status::error("has " + std::to_string(shape[0]) + " rows, rows " + std::to_string(r.begin) + ".."
                    + std::to_string(r.begin + r.count) + " are needed");
            rows += r.count;
        }
        shape[0] = rows;
    }
    if (!recipe.shape.empty()) {
        int64_t have = 1, want = 1;
        for (int64_t s : shape)
            have *= s;
        for (int64_t s : recipe.shape)
            want *= s;
        if (have != want)
            return Status::error("has " + std::to_string(have) + " elements " + shapeToString(shape) + ", "
                + shapeToString(recipe.shape) + " needs " + std::to_string(want));
        shape = recipe.shape;
    }
    return shape;
}

Status checkRecipes(const ModelSource& source, const std::vector<std::string>& ignored, const std::string& origin)
{
    std::vector<std::string> missing, misShaped, badType, unexpected;
    std::set<std::string> used;
    for (const TensorSpec& spec : expectedTensors(source.config)) {
        auto it = source.recipes.find(spec.name);
        const StoredTensor* stored = it == source.recipes.end() ? nullptr : source.find(it->second.source);
        if (!stored) {
            missing.push_back(
                (it == source.recipes.end() ? spec.name : it->second.source) + " " + shapeToString(spec.shape));
            continue;
        }
        used.insert(stored->name);
        Result<std::vector<int64_t>> shape = recipeShape(it->second, *stored);
        if (!shape)
            misShaped.push_back(stored->name + " " + shape.message() + " (for " + spec.name + ")");
        else if (*shape != spec.shape)
            misShaped.push_back(stored->name + ": the file has " + shapeToString(stored->shape) + ", the config needs "
                + shapeToString(spec.shape) + (stored->name == spec.name ? "" : " for " + spec.name));
        if (stored->dtype == DType::I64)
            badType.push_back(stored->name + " is " + dtypeName(stored->dtype) + " (weights must be F32, F16 or BF16)");
    }
    for (const StoredTensor& t : source.stored)
        if (!used.count(t.name) && std::find(ignored.begin(), ignored.end(), t.name) == ignored.end())
            unexpected.push_back(t.name + " " + shapeToString(t.shape));
    if (missing.empty() && misShaped.empty() && badType.empty() && unexpected.empty())
        return Status::ok();

    std::ostringstream msg;
    msg << "the weights do not match " << origin << ":";
    auto list = [&msg](const char* title, const std::vector<std::string>& items) {
        if (items.empty())
            return;
        msg << "\n  " << title << " (" << items.size() << "):";
        constexpr size_t kShown = 40; // a wrong family can mismatch thousands; the first ones say what is wrong
        for (size_t i = 0; i < items.size() && i < kShown; ++i)
            msg << "\n    " << items[i];
        if (items.size() > kShown)
            msg << "\n    ... and " << items.size() - kShown << " more";
    };
    list("missing tensors", missing);
    list("unexpected tensors", unexpected);
    list("wrong shapes", misShaped);
    list("wrong dtypes", badType);
    return Status::error(msg.str());
}

Result<std::string> weightsSha256(const std::vector<std::string>& files, const std::atomic<bool>* cancel)
{
    if (files.size() == 1)
        return sha256File(files.front(), cancel);
    std::string listing;
    for (const std::string& file : files) {
        Result<std::string> digest = sha256File(file, cancel);
        if (!digest)
            return digest.status();
        listing += *digest + "  " + fs::path(file).filename().string() + "\n";
    }
    return sha256Bytes(listing);
}

namespace detail {

Result<StoredTensor> storedTensorFromPt(const PtNamedTensor& named, const std::string& path)
{
    const PtTensor& t = *named.tensor;
    const std::optional<DType> dtype = toModelDType(t.dtype);
    if (!dtype)
        return Status::error(path + ": tensor " + named.name + " is " + ptScalarName(t.dtype)
            + "; attnscope reads F32, F16 and BF16 weights");
    StoredTensor stored;
    stored.name = named.name;
    stored.file = path;
    stored.dtype = *dtype;
    stored.shape = t.shape;
    stored.strides = t.stride;
    stored.data = t.data();
    return stored;
}

void keepNeededRecipes(ModelSource& source)
{
    std::map<std::string, TensorRecipe> needed;
    for (const TensorSpec& spec : expectedTensors(source.config))
        if (auto it = source.recipes.find(spec.name); it != source.recipes.end())
            needed.insert(*it);
    source.recipes = std::move(needed);
}

void addSafetensorsFile(ModelSource& source, std::shared_ptr<SafetensorsFile> file, const std::string& prefixToStrip)
{
    for (const TensorInfo& info : file->tensors()) {
        StoredTensor t;
        t.name = info.name.compare(0, prefixToStrip.size(), prefixToStrip) == 0 ? info.name.substr(prefixToStrip.size())
                                                                                : info.name;
        t.file = file->path();
        t.dtype = info.dtype;
        t.shape = info.shape;
        t.data = file->data(info);
        source.stored.push_back(std::move(t));
    }
    source.weightFiles.push_back(file->path());
    source.keepAlive.push_back(std::move(file));
}

} // namespace detail

namespace {

// attnscope's own folder: config.json in our format, model.safetensors with the engine's names.
Result<std::unique_ptr<ModelSource>> openAttnscopeFolder(const std::string& dir)
{
    auto config = loadConfig((fs::path(dir) / kConfigFileName).string());
    if (!config)
        return config.status();
    auto tokenizer = makeTokenizer(config->tokenizer, dir);
    if (!tokenizer)
        return tokenizer.status();
    if ((*tokenizer)->vocabSize() != config->vocabSize)
        return Status::error("the tokenizer has " + std::to_string((*tokenizer)->vocabSize())
            + " tokens but config.json says vocab_size " + std::to_string(config->vocabSize));
    auto file = SafetensorsFile::open((fs::path(dir) / kWeightsFileName).string());
    if (!file)
        return file.status();
    if (Status s = checkTensorsMatchConfig(*config, (*file)->tensors()); !s)
        return s;
    auto source = std::make_unique<ModelSource>();
    source->path = dir;
    source->format = "attnscope";
    source->config = std::move(config.value());
    source->tokenizer = std::move(tokenizer.value());
    detail::addSafetensorsFile(*source, std::shared_ptr<SafetensorsFile>(std::move(file).value()), "");
    for (const TensorSpec& spec : expectedTensors(source->config))
        source->recipes[spec.name] = TensorRecipe {spec.name, false, {}, {}};
    source->description.push_back({"format", "attnscope"});
    return source;
}

} // namespace

Result<std::unique_ptr<ModelSource>> openModelSource(const std::string& path)
{
    std::error_code ec;
    if (fs::is_regular_file(path, ec))
        return detail::openPytorchCheckpoint(path);
    if (!fs::is_directory(path, ec))
        return Status::error(path + ": no such model folder or checkpoint file");
    const std::string configPath = (fs::path(path) / kConfigFileName).string();
    if (!fs::exists(configPath, ec))
        return Status::error(path
            + ": no config.json in this folder (a model folder holds config.json and "
              "model.safetensors)");
    Result<std::string> text = readRegularFile(configPath, detail::kMaxConfigBytes);
    if (!text)
        return text.status();
    nlohmann::json root;
    // transformers keeps the last of duplicate keys; attnscope's own format refuses them when loadConfig reads it.
    detail::JsonLimits limits;
    limits.rejectDuplicateKeys = false;
    if (Status parsed = detail::parseUntrustedJson(*text, limits, root); !parsed)
        return Status::error(configPath + ": " + parsed.message());
    if (root.is_object() && root.contains("model_type") && !root.contains("format"))
        return detail::openHuggingFaceFolder(path, root);
    return openAttnscopeFolder(path);
}

} // namespace attn
