// SPDX-License-Identifier: GPL-3.0-or-later
#include "attnscope/model_format.h"

#include "attnscope/tensor_names.h"

#include <map>
#include <sstream>

namespace attn {

int64_t TensorSpec::numel() const
{
    int64_t n = 1;
    for (int64_t s : shape)
        n *= s;
    return n;
}

std::string shapeToString(const std::vector<int64_t>& shape)
{
    std::ostringstream out;
    out << '[';
    for (size_t i = 0; i < shape.size(); ++i)
        out << (i ? ", " : "") << shape[i];
    out << ']';
    return out.str();
}

std::vector<TensorSpec> expectedTensors(const ModelConfig& c)
{
    std::vector<TensorSpec> out;
    forEachTensor(c, [&](const TensorEntry& e, int64_t layer) {
        out.push_back({tensorName(e.id, layer), e.shape(c)});
    });
    return out;
}

int64_t parameterCount(const ModelConfig& config)
{
    int64_t n = 0;
    for (const auto& t : expectedTensors(config))
        n += t.numel();
    return n;
}

int64_t attentionParameterCount(const ModelConfig& config)
{
    int64_t n = 0;
    for (const TensorEntry& e : tensorTable())
        if (e.part == TensorPart::Layer && inAttentionBlock(e.id) && e.present(config))
            n += TensorSpec {e.name, e.shape(config)}.numel();
    return n;
}

Status checkTensorsMatchConfig(const ModelConfig& config, const std::vector<TensorInfo>& tensors)
{
    std::map<std::string, const TensorInfo*> stored;
    for (const auto& t : tensors)
        stored[t.name] = &t;

    std::vector<std::string> missing, misShaped, badType;
    for (const auto& spec : expectedTensors(config)) {
        auto it = stored.find(spec.name);
        if (it == stored.end()) {
            missing.push_back(spec.name + " " + shapeToString(spec.shape));
            continue;
        }
        const TensorInfo& info = *it->second;
        if (info.shape != spec.shape)
            misShaped.push_back(
                spec.name + ": file has " + shapeToString(info.shape) + ", config needs " + shapeToString(spec.shape));
        if (info.dtype == DType::I64)
            badType.push_back(spec.name + " is I64 (weights must be F32, F16 or BF16)");
        stored.erase(it);
    }
    if (missing.empty() && misShaped.empty() && badType.empty() && stored.empty())
        return Status::ok();

    std::ostringstream msg;
    msg << "the weights do not match config.json:";
    auto list = [&msg](const char* title, const std::vector<std::string>& items) {
        if (items.empty())
            return;
        msg << "\n  " << title << " (" << items.size() << "):";
        // A file with thousands of unexpected tensors needs a readable message, not all of them.
        constexpr std::size_t kListed = 20;
        for (std::size_t i = 0; i < items.size() && i < kListed; ++i)
            msg << "\n    " << items[i];
        if (items.size() > kListed)
            msg << "\n    ... and " << items.size() - kListed << " more";
    };
    std::vector<std::string> unexpected;
    for (const auto& [name, info] : stored)
        unexpected.push_back(name + " " + shapeToString(info->shape));
    list("missing tensors", missing);
    list("unexpected tensors", unexpected);
    list("wrong shapes", misShaped);
    list("wrong dtypes", badType);
    return Status::error(msg.str());
}

} // namespace attn
