// SPDX-License-Identifier: GPL-3.0-or-later
// config.json of a Hugging Face model -> ModelConfig. Defaults are transformers' config classes' (interop.md 1.3); both
// config styles are read: transformers 4 (rope_theta + rope_scaling, legacy "type") and 5 (rope_parameters, dtype).
#include "hf/hf_config.h"

#include "json_limits.h"

#include "attnscope/config_defaults.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <stdexcept>

namespace attn::hf {

namespace {

using json = nlohmann::json;

struct ConfigError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::string shortText(const json& value)
{
    return detail::jsonExcerpt(value, 57);
}

const json* field(const json& object, const char* key)
{
    auto it = object.find(key);
    return it == object.end() || it->is_null() ? nullptr : &*it;
}

int64_t intField(const json& object, const char* key, int64_t fallback)
{
    const json* v = field(object, key);
    if (!v)
        return fallback;
    if (!v->is_number_integer())
        throw ConfigError(std::string("\"") + key + "\" must be an integer, not " + shortText(*v));
    // Every integer here is a size or a count; within +-2^53 the arithmetic on them (4 * hidden_size,
    // head_dim * partial_rotary_factor as a double) cannot overflow before validateConfig bounds them properly.
    constexpr int64_t kLargest = int64_t(1) << 53;
    const bool inRange = v->is_number_unsigned() ? v->get<uint64_t>() <= static_cast<uint64_t>(kLargest)
                                                 : v->get<int64_t>() >= -kLargest && v->get<int64_t>() <= kLargest;
    if (!inRange)
        throw ConfigError(std::string("\"") + key + "\" is out of range (got " + shortText(*v) + ")");
    return v->get<int64_t>();
}

double numberField(const json& object, const char* key, double fallback)
{
    const json* v = field(object, key);
    if (!v)
        return fallback;
    if (!v->is_number())
        throw ConfigError(std::string("\"") + key + "\" must be a number, not " + shortText(*v));
    return v->get<double>();
}

/// A soft-cap: absent takes the family's default, an explicit null means no cap (transformers' None), 0 stands for
/// none.
double softcapField(const json& object, const char* key, double fallback)
{
    const auto it = object.find(key);
    if (it == object.end())
        return fallback;
    if (it->is_null())
        return 0.0;
    return numberField(object, key, fallback);
}

bool boolField(const json& object, const char* key, bool fallback)
{
    const json* v = field(object, key);
    if (!v)
        return fallback;
    if (!v->is_boolean())
        throw ConfigError(std::string("\"") + key + "\" must be true or false, not " + shortText(*v));
    return v->get<bool>();
}

std::string stringField(const json& object, const char* key, const std::string& fallback)
{
    const json* v = field(object, key);
    if (!v)
        return fallback;
    if (!v->is_string())
        throw ConfigError(std::string("\"") + key + "\" must be a string, not " + shortText(*v));
    return v->get<std::string>();
}

constexpr int64_t kLongestRopePrompt = int64_t(1) << 20;

const std::map<std::string, Family> kFamilies
    = {{"llama", Family::Llama}, {"mistral", Family::Mistral}, {"qwen2", Family::Qwen2}, {"qwen3", Family::Qwen3},
        {"gemma", Family::Gemma}, {"gemma2", Family::Gemma2}, {"gpt2", Family::Gpt2}, {"diffllama", Family::DiffLlama}};

std::string supportedFamilies()
{
    std::string names;
    for (const auto& [name, family] : kFamilies)
        names += (names.empty() ? "" : ", ") + name;
    return names;
}

// The one rope parameter dict, whichever way the config spells it.
json ropeParameters(const json& root)
{
    json params = json::object();
    if (const json* p = field(root, "rope_parameters")) { // transformers 5
        if (!p->is_object())
            throw ConfigError("\"rope_parameters\" must be an object, not " + shortText(*p));
        params = *p;
        // Nested per layer type ({"full_attention": {...}, "sliding_attention": {...}}): one table serves them all
        // only when they agree.
        bool nested = !params.empty();
        for (const auto& [key, value] : params.items())
            nested = nested && value.is_object();
        if (nested) {
            const json first = params.begin().value();
            for (const auto& [key, value] : params.items())
                if (value != first)
                    throw ConfigError("\"rope_parameters\" differs between layer types (" + key
                        + "); attnscope has one RoPE table per model");
            params = first;
        }
    } else if (const json* s = field(root, "rope_scaling")) { // transformers 4
        if (!s->is_object())
            throw ConfigError("\"rope_scaling\" must be an object, not " + shortText(*s));
        params = *s;
    }
    if (!params.contains("rope_theta") && root.contains("rope_theta"))
        params["rope_theta"] = root["rope_theta"];
    if (!params.contains("partial_rotary_factor") && root.contains("partial_rotary_factor"))
        params["partial_rotary_factor"] = root["partial_rotary_factor"];
    return params;
}

std::vector<double> factorList(const json& params, const char* key, int64_t expected)
{
    const json* v = field(params, key);
    if (!v || !v->is_array())
        throw ConfigError(
            std::string("longrope needs \"") + key + "\", a list of " + std::to_string(expected) + " numbers");
    std::vector<double> out;
    for (const json& x : *v) {
        if (!x.is_number())
            throw ConfigError(std::string("\"") + key + "\" holds " + shortText(x) + ", not a number");
        out.push_back(x.get<double>());
    }
    if (static_cast<int64_t>(out.size()) != expected)
        throw ConfigError(std::string("\"") + key + "\" has " + std::to_string(out.size()) + " factors; "
            + std::to_string(expected) + " are needed (rotary dim / 2)");
    return out;
}

RopeConfig translateRope(const json& root, const std::string& family, int64_t headDim, int64_t maxPositions)
{
    const json params = ropeParameters(root);
    RopeConfig rope;
    rope.style = RopeStyle::RotateHalf; // every transformers family here pairs (i, i + d/2)
    rope.freqs = RopeFreqs::Standard;
    rope.theta = numberField(params, "rope_theta", configDefault(family, "rope_theta"));
    const double partial = numberField(params, "partial_rotary_factor", 1.0);
    if (!(partial > 0.0 && partial <= 1.0))
        throw ConfigError("\"partial_rotary_factor\" must be in (0, 1], not " + std::to_string(partial));
    const int64_t dim = static_cast<int64_t>(static_cast<double>(headDim) * partial);
    if (dim < 2 || dim % 2 != 0)
        throw ConfigError("partial_rotary_factor " + std::to_string(partial) + " of head_dim " + std::to_string(headDim)
            + " rotates " + std::to_string(dim) + " features; RoPE needs an even number >= 2");
    rope.rotaryDim = dim == headDim ? 0 : dim;

    RopeScaling& s = rope.scaling;
    std::string type = stringField(params, "rope_type", stringField(params, "type", "default"));
    s.maxPositions = maxPositions;
    s.factor = numberField(params, "factor", 1.0);
    s.originalMaxPositions = intField(
        params, "original_max_position_embeddings", intField(root, "original_max_position_embeddings", maxPositions));
    if (type == "default") {
        s.type = RopeScalingType::None;
    } else if (type == "linear") {
        s.type = RopeScalingType::Linear;
    } else if (type == "dynamic") {
        s.type = RopeScalingType::Dynamic;
    } else if (type == "llama3") {
        s.type = RopeScalingType::Llama3;
        s.factor = numberField(params, "factor", 8.0);
        s.lowFreqFactor = numberField(params, "low_freq_factor", 1.0);
        s.highFreqFactor = numberField(params, "high_freq_factor", 4.0);
        if (!(s.highFreqFactor > s.lowFreqFactor))
            throw ConfigError("llama3 rope scaling needs high_freq_factor > low_freq_factor");
    } else if (type == "yarn") {
        s.type = RopeScalingType::Yarn;
        if (!field(params, "factor"))
            s.factor = static_cast<double>(maxPositions) / static_cast<double>(s.originalMaxPositions);
        s.attentionFactor = numberField(params, "attention_factor", 0.0);
        s.betaFast = numberField(params, "beta_fast", 32.0);
        s.betaSlow = numberField(params, "beta_slow", 1.0);
        s.mscale = numberField(params, "mscale", 0.0);
        s.mscaleAllDim = numberField(params, "mscale_all_dim", 0.0);
        s.truncate = boolField(params, "truncate", true);
    } else if (type == "longrope") {
        s.type = RopeScalingType::LongRope;
        s.factor = field(params, "factor")
            ? numberField(params, "factor", 1.0)
            : static_cast<double>(maxPositions) / static_cast<double>(s.originalMaxPositions);
        s.attentionFactor = numberField(params, "attention_factor", 0.0);
        s.shortFactor = factorList(params, "short_factor", dim / 2);
        s.longFactor = factorList(params, "long_factor", dim / 2);
    } else {
        throw ConfigError("rope type \"" + detail::textExcerpt(type)
            + "\" is not supported (attnscope computes default, linear, dynamic, llama3, yarn and longrope)");
    }
    if (!(s.factor > 0.0) || !std::isfinite(s.factor))
        throw ConfigError("the rope scaling factor must be a finite number > 0");
    if (s.type != RopeScalingType::None && s.type != RopeScalingType::Linear && s.type != RopeScalingType::Dynamic
        && s.originalMaxPositions <= 0)
        throw ConfigError("rope type \"" + detail::textExcerpt(type) + "\" needs original_max_position_embeddings > 0");
    return rope;
}

// Which layers use a sliding window, and its width (interop.md 1.3 "Sliding window").
void translateSliding(const json& root, Family family, int64_t layers, ArchitectureConfig& arch)
{
    int64_t window = 0;
    std::vector<bool> sliding(static_cast<size_t>(layers), false);
    switch (family) {
    case Family::Mistral:
        window = intField(root, "sliding_window", 4096);
        sliding.assign(sliding.size(), true);
        break;
    case Family::Qwen2:
    case Family::Qwen3: {
        if (boolField(root, "use_sliding_window", false))
            window = intField(root, "sliding_window", 4096);
        const int64_t from = std::max<int64_t>(intField(root, "max_window_layers", 28), 0);
        for (int64_t i = from; i < layers; ++i)
            sliding[static_cast<size_t>(i)] = true;
        break;
    }
    case Family::Gemma2:
        window = intField(root, "sliding_window", 4096);
        for (int64_t i = 0; i < layers; ++i)
            sliding[static_cast<size_t>(i)] = (i + 1) % 2 == 1;
        break;
    default:
        return;
    }
    if (family != Family::Mistral) { // mistral's class ignores layer_types
        if (const json* types = field(root, "layer_types")) {
            if (!types->is_array() || static_cast<int64_t>(types->size()) != layers)
                throw ConfigError("\"layer_types\" must list one type per layer (" + std::to_string(layers) + ")");
            for (int64_t i = 0; i < layers; ++i) {
                const json& t = (*types)[static_cast<size_t>(i)];
                if (t == "sliding_attention")
                    sliding[static_cast<size_t>(i)] = true;
                else if (t == "full_attention")
                    sliding[static_cast<size_t>(i)] = false;
                else
                    throw ConfigError("layer type " + shortText(t) + " of layer " + std::to_string(i)
                        + " is not supported (sliding_attention, full_attention)");
            }
        }
    }
    if (window < 0)
        throw ConfigError("\"sliding_window\" must not be negative");
    arch.slidingWindow = window;
    if (window > 0)
        arch.slidingLayers = sliding;
}

void refuseUnsupported(const json& root, Family family)
{
    if (root.contains("quantization_config"))
        throw ConfigError("quantized weights (\"quantization_config\": "
            + stringField(root["quantization_config"].is_object() ? root["quantization_config"] : json::object(),
                "quant_method", "?")
            + ") are not supported; open the unquantized checkpoint");
    if (boolField(root, "use_bidirectional_attention", false))
        throw ConfigError("\"use_bidirectional_attention\": true is not supported (attnscope runs causal attention)");
    if (family == Family::Gpt2 && boolField(root, "add_cross_attention", false))
        throw ConfigError("\"add_cross_attention\": true is not supported (decoder-only models)");
    if (boolField(root, "is_encoder_decoder", false))
        throw ConfigError("encoder-decoder models are not supported");
}

std::string number(double value)
{
    char text[32];
    std::snprintf(text, sizeof text, "%g", value);
    return text;
}

void describe(HfConfig& out)
{
    const ModelConfig& c = out.config;
    auto& d = out.description;
    d.push_back({"format", "Hugging Face transformers folder"});
    d.push_back({"model_type", out.modelType});
    if (!out.storedDtype.empty())
        d.push_back({"dtype (config)", out.storedDtype});
    d.push_back({"norm", toString(c.arch.norm) + ", " + toString(c.arch.block)});
    d.push_back({"mlp", toString(c.arch.mlp)});
    if (c.hasRope()) {
        d.push_back(
            {"trained context", std::to_string(c.rope.scaling.maxPositions) + " tokens (max_position_embeddings)"});
        std::string rope = "theta " + number(c.rope.theta) + ", " + toString(c.rope.scaling.type);
        if (c.rope.scaling.type != RopeScalingType::None)
            rope += " x" + number(c.rope.scaling.factor);
        if (c.rope.rotaryDim > 0)
            rope += ", rotary dim " + std::to_string(c.rope.rotaryDim);
        d.push_back({"rope", rope});
    }
    if (c.arch.slidingWindow > 0) {
        int64_t n = 0;
        for (bool s : c.arch.slidingLayers)
            n += s ? 1 : 0;
        d.push_back({"sliding window",
            std::to_string(c.arch.slidingWindow) + " tokens on " + std::to_string(n) + " of "
                + std::to_string(c.nLayers) + " layers"});
    }
    if (c.arch.attnSoftcap > 0.0 || c.arch.finalSoftcap > 0.0)
        d.push_back(
            {"soft-caps", "attention " + number(c.arch.attnSoftcap) + ", logits " + number(c.arch.finalSoftcap)});
    if (c.isDiff())
        d.push_back({"differential heads",
            std::to_string(c.nHeads) + " (" + std::to_string(out.subHeads)
                + " sub-heads as stored: A1 = sub-head i, A2 = sub-head i + " + std::to_string(c.nHeads) + ")"});
}

HfConfig translate(const json& root)
{
    HfConfig out;
    out.modelType = stringField(root, "model_type", "");
    auto family = kFamilies.find(out.modelType);
    if (family == kFamilies.end())
        throw ConfigError("model_type \"" + detail::textExcerpt(out.modelType) + "\" is not supported (attnscope opens "
            + supportedFamilies() + ")");
    out.family = family->second;
    refuseUnsupported(root, out.family);
    out.storedDtype = stringField(root, "dtype", stringField(root, "torch_dtype", ""));

    ModelConfig& c = out.config;
    ArchitectureConfig& a = c.arch;
    a.family = out.modelType;
    c.tokenizer.type = TokenizerType::HuggingFace;
    c.attention = AttentionKind::Softmax;
    c.gqa = GqaSemantics::Flash;

    // Absent fields take the defaults of the family's transformers config class (config_defaults.h).
    const std::string& source = out.modelType;
    const auto defaultInt = [&source](const char* key) { return configDefaultInt(source, key); };
    if (out.family == Family::Gpt2) {
        c.vocabSize = intField(root, "vocab_size", defaultInt("vocab_size"));
        c.dModel = intField(root, "n_embd", intField(root, "hidden_size", defaultInt("n_embd")));
        c.nLayers = intField(root, "n_layer", intField(root, "num_hidden_layers", defaultInt("n_layer")));
        c.nHeads = intField(root, "n_head", intField(root, "num_attention_heads", defaultInt("n_head")));
        c.nKvHeads = c.nHeads;
        c.headDim = c.nHeads > 0 ? c.dModel / c.nHeads : 0;
        c.ffnHidden = intField(root, "n_inner", 4 * c.dModel); // GPT2Config's rule for n_inner = None
        c.maxSeqLen
            = intField(root, "n_positions", intField(root, "max_position_embeddings", defaultInt("n_positions")));
        c.normEps = numberField(root, "layer_norm_epsilon", configDefault(source, "layer_norm_epsilon"));
        c.tieEmbeddings = boolField(root, "tie_word_embeddings", configDefaultBool(source, "tie_word_embeddings"));
        c.position = PositionKind::Learned;
        a.norm = NormKind::LayerNorm;
        a.mlp = MlpKind::GeluTanh;
        a.qkvBias = a.outBias = a.mlpBias = true;
        const std::string act = stringField(root, "activation_function", "gelu_new");
        if (act != "gelu_new" && act != "gelu_pytorch_tanh")
            throw ConfigError("activation_function \"" + detail::textExcerpt(act) + "\" is not supported (gelu_new)");
        if (!boolField(root, "scale_attn_weights", true))
            a.attnScale = 1.0;
        a.scaleByInverseLayer = boolField(root, "scale_attn_by_inverse_layer_idx", false);
        describe(out);
        return out;
    }

    const bool gemma = out.family == Family::Gemma || out.family == Family::Gemma2;
    c.vocabSize = intField(root, "vocab_size", defaultInt("vocab_size"));
    c.dModel = intField(root, "hidden_size", defaultInt("hidden_size"));
    c.nLayers = intField(root, "num_hidden_layers", defaultInt("num_hidden_layers"));
    const int64_t heads = intField(root, "num_attention_heads", defaultInt("num_attention_heads"));
    // Some config classes give these a value of their own; the others derive them from the heads and the width.
    const int64_t kvHeads = intField(root, "num_key_value_heads",
        hasConfigDefault(source, "num_key_value_heads") ? defaultInt("num_key_value_heads") : heads);
    const int64_t defaultHeadDim
        = hasConfigDefault(source, "head_dim") ? defaultInt("head_dim") : (heads > 0 ? c.dModel / heads : 0);
    c.headDim = intField(root, "head_dim", defaultHeadDim);
    c.ffnHidden = intField(root, "intermediate_size", defaultInt("intermediate_size"));
    c.maxSeqLen = intField(root, "max_position_embeddings", defaultInt("max_position_embeddings"));
    c.normEps = numberField(root, "rms_norm_eps", configDefault(source, "rms_norm_eps"));
    c.tieEmbeddings = boolField(root, "tie_word_embeddings", configDefaultBool(source, "tie_word_embeddings"));
    c.nHeads = heads;
    c.nKvHeads = kvHeads;
    // Sizes are checked before anything is computed or allocated from them (the RoPE width, one sliding flag
    // per layer); the full check of the finished config follows in translateConfig.
    if (Status sizes = validateConfig(c); !sizes)
        throw ConfigError(sizes.message());
    c.position = PositionKind::Rope;
    c.rope = translateRope(root, source, c.headDim, c.maxSeqLen);
    // RoPE has no table to run out of: transformers runs any length, and so does attnscope (the memory estimate
    // still refuses what cannot fit). max_position_embeddings stays in the description as the trained context.
    c.maxSeqLen = std::max<int64_t>(c.maxSeqLen, kLongestRopePrompt);

    const bool attentionBias = boolField(root, "attention_bias", false);
    a.qkvBias = attentionBias || out.family == Family::Qwen2;
    a.outBias = attentionBias && out.family != Family::Qwen2;
    a.mlpBias = boolField(root, "mlp_bias", false);
    a.qkNorm = out.family == Family::Qwen3;
    const std::string act
        = gemma ? stringField(root, "hidden_activation", "gelu_pytorch_tanh") : stringField(root, "hidden_act", "silu");
    if (gemma) {
        if (act != "gelu_pytorch_tanh" && act != "gelu_new")
            throw ConfigError(
                "hidden_activation \"" + detail::textExcerpt(act) + "\" is not supported (gelu_pytorch_tanh)");
        a.mlp = MlpKind::GeGluTanh;
        a.norm = NormKind::RmsNormPlusOne;
        a.embedScale = std::sqrt(static_cast<double>(c.dModel));
    } else if (act != "silu") {
        throw ConfigError(
            "hidden_act \"" + detail::textExcerpt(act) + "\" is not supported for " + out.modelType + " (silu)");
    }
    if (out.family == Family::Gemma2) {
        a.block = BlockLayout::Sandwich;
        a.attnScale = 1.0
            / std::sqrt(numberField(root, "query_pre_attn_scalar", configDefault(source, "query_pre_attn_scalar")));
        // Absent means Gemma2Config's caps (50 and 30), not none: an explicit null turns a cap off.
        a.attnSoftcap = softcapField(root, "attn_logit_softcapping", configDefault(source, "attn_logit_softcapping"));
        a.finalSoftcap
            = softcapField(root, "final_logit_softcapping", configDefault(source, "final_logit_softcapping"));
    }
    translateSliding(root, out.family, c.nLayers, a);

    if (out.family == Family::DiffLlama) {
        // DiffLlama counts sub-heads; attnscope counts differential heads of two sub-heads each (interop.md 2.5).
        out.subHeads = heads;
        out.kvSubHeads = kvHeads;
        if (heads % 2 != 0 || kvHeads % 2 != 0)
            throw ConfigError("diffllama with " + std::to_string(heads) + " attention / " + std::to_string(kvHeads)
                + " key-value sub-heads: both must be even (A1 = first half, A2 = second half)");
        c.attention = AttentionKind::Diff;
        c.nHeads = heads / 2;
        c.nKvHeads = kvHeads / 2;
        a.sublnEps = c.normEps; // DiffLlama's groupnorm takes rms_norm_eps and has no weight
    }
    describe(out);
    return out;
}

} // namespace

Result<HfConfig> translateConfig(const nlohmann::json& root, const std::string& origin)
{
    try {
        if (!root.is_object())
            return Status::error(origin + ": not a JSON object");
        HfConfig out = translate(root);
        if (Status s = validateConfig(out.config); !s)
            return Status::error(origin + ": " + s.message());
        return out;
    } catch (const std::exception& e) {
        return Status::error(origin + ": " + e.what());
    }
}

} // namespace attn::hf
