// SPDX-License-Identifier: GPL-3.0-or-later
#include "attnscope/config.h"
#include "attnscope/config_defaults.h"

#include "attnscope/fileio.h"

#include "json_limits.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace attn {

namespace {

using json = nlohmann::json;

// Internal only: parseConfig turns it into a Status, so nothing crosses the public API.
class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string& message)
{
    throw ConfigError(message);
}

std::string quoted(const std::string& text)
{
    // Everything quoted comes from the file or names a field; either way a short excerpt says enough.
    return "\"" + detail::textExcerpt(text, 80) + "\"";
}

// A value as it appeared in the file, cut short so a stray object does not flood the message.
std::string shortDump(const json& value)
{
    return detail::jsonExcerpt(value, 37);
}

template <typename E> struct EnumName {
    E value;
    const char* name;
};

constexpr EnumName<AttentionKind> kAttentionNames[]
    = {{AttentionKind::Softmax, "softmax"}, {AttentionKind::Diff, "diff"}};
constexpr EnumName<PositionKind> kPositionNames[] = {{PositionKind::None, "none"}, {PositionKind::Learned, "learned"},
    {PositionKind::Rope, "rope"}, {PositionKind::Cope, "cope"}, {PositionKind::RopeCope, "rope+cope"}};
constexpr EnumName<RopeStyle> kRopeStyleNames[]
    = {{RopeStyle::Interleaved, "interleaved"}, {RopeStyle::RotateHalf, "rotate_half"}};
constexpr EnumName<RopeFreqs> kRopeFreqsNames[]
    = {{RopeFreqs::Linspace, "linspace"}, {RopeFreqs::Standard, "standard"}};
constexpr EnumName<CopeScaling> kCopeScalingNames[]
    = {{CopeScaling::Code, "code"}, {CopeScaling::Appendix, "appendix"}};
constexpr EnumName<CopeRopeQuery> kCopeRopeQueryNames[]
    = {{CopeRopeQuery::Rotated, "rotated"}, {CopeRopeQuery::Unrotated, "unrotated"}};
constexpr EnumName<GqaSemantics> kGqaNames[] = {{GqaSemantics::Flash, "flash"}, {GqaSemantics::Naive, "naive"}};
// Only bytes and word can be named in attnscope's config.json; the other two come from importers.
constexpr EnumName<TokenizerType> kTokenizerNames[] = {{TokenizerType::Bytes, "bytes"}, {TokenizerType::Word, "word"}};
constexpr EnumName<TokenizerType> kImportedTokenizerNames[]
    = {{TokenizerType::HuggingFace, "tokenizer.json"}, {TokenizerType::Checkpoint, "checkpoint"}};
constexpr EnumName<RopeScalingType> kRopeScalingNames[]
    = {{RopeScalingType::None, "default"}, {RopeScalingType::Linear, "linear"}, {RopeScalingType::Dynamic, "dynamic"},
        {RopeScalingType::Llama3, "llama3"}, {RopeScalingType::Yarn, "yarn"}, {RopeScalingType::LongRope, "longrope"}};
constexpr EnumName<NormKind> kNormNames[] = {
    {NormKind::RmsNorm, "rmsnorm"}, {NormKind::RmsNormPlusOne, "rmsnorm (1 + w)"}, {NormKind::LayerNorm, "layernorm"}};
constexpr EnumName<BlockLayout> kBlockNames[] = {{BlockLayout::PreNorm, "pre-norm"},
    {BlockLayout::PostNorm, "post-norm"}, {BlockLayout::Sandwich, "sandwich (pre + post norms)"}};
constexpr EnumName<MlpKind> kMlpNames[] = {{MlpKind::SwiGlu, "swiglu"}, {MlpKind::GeGluTanh, "geglu (tanh)"},
    {MlpKind::GeluTanh, "gelu (tanh)"}, {MlpKind::Relu, "relu"}};

template <typename E, std::size_t N> std::string enumName(const EnumName<E> (&table)[N], E value)
{
    for (const auto& entry : table)
        if (entry.value == value)
            return entry.name;
    return "?";
}

template <typename E, std::size_t N> std::string allowedNames(const EnumName<E> (&table)[N])
{
    std::string all;
    for (const auto& entry : table)
        all += (all.empty() ? "" : ", ") + std::string(entry.name);
    return all;
}

template <typename E, std::size_t N> bool lookupEnum(const EnumName<E> (&table)[N], const std::string& text, E& out)
{
    for (const auto& entry : table) {
        if (text == entry.name) {
            out = entry.value;
            return true;
        }
    }
    return false;
}

// std::to_string prints 1e-9 as "0.000000"; %g keeps small and large values readable.
std::string formatNumber(double value)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", value);
    return buf;
}

// --- typed field readers; `field` is the dotted path used in messages ("rope.theta") ---

const json* findField(const json& object, const char* name)
{
    auto it = object.find(name);
    return it == object.end() ? nullptr : &*it;
}

const json& requireField(const json& object, const std::string& prefix, const char* name)
{
    const json* value = findField(object, name);
    if (!value)
        fail("missing required field " + quoted(prefix + name));
    return *value;
}

int64_t asInt(const json& value, const std::string& field)
{
    if (value.is_number_unsigned()) {
        if (value.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
            fail(quoted(field) + " is out of range (got " + shortDump(value) + ")");
        return static_cast<int64_t>(value.get<uint64_t>());
    }
    if (value.is_number_integer())
        return value.get<int64_t>();
    fail(quoted(field) + " must be an integer (got " + shortDump(value) + ")");
}

double asNumber(const json& value, const std::string& field)
{
    if (!value.is_number())
        fail(quoted(field) + " must be a number (got " + shortDump(value) + ")");
    return value.get<double>();
}

bool asBool(const json& value, const std::string& field)
{
    if (!value.is_boolean())
        fail(quoted(field) + " must be true or false (got " + shortDump(value) + ")");
    return value.get<bool>();
}

std::string asString(const json& value, const std::string& field)
{
    if (!value.is_string())
        fail(quoted(field) + " must be a string (got " + shortDump(value) + ")");
    return value.get<std::string>();
}

template <typename E, std::size_t N>
E asEnum(const json& value, const std::string& field, const EnumName<E> (&table)[N])
{
    E out {};
    if (!value.is_string() || !lookupEnum(table, value.get<std::string>(), out))
        fail(quoted(field) + " must be one of " + allowedNames(table) + " (got " + shortDump(value) + ")");
    return out;
}

void requireObject(const json& value, const std::string& field)
{
    if (!value.is_object())
        fail(quoted(field) + " must be an object (got " + shortDump(value) + ")");
}

// Unknown keys are rejected first: a misspelt key usually explains a later "missing" error too.
void rejectUnknownFields(const json& object, const std::string& prefix, std::initializer_list<const char*> allowed)
{
    for (auto it = object.begin(); it != object.end(); ++it) {
        bool known = false;
        for (const char* name : allowed)
            known = known || it.key() == name;
        if (known)
            continue;
        std::string list;
        for (const char* name : allowed)
            list += (list.empty() ? "" : ", ") + std::string(name);
        const std::string where
            = prefix.empty() ? "at the top level" : "in " + quoted(prefix.substr(0, prefix.size() - 1));
        fail("unknown field " + quoted(prefix + it.key()) + " (allowed " + where + ": " + list + ")");
    }
}

// Optional fields' defaults, from the one table (config_defaults.h); a missing row fails to compile.
constexpr double kDefaultNormEps = configDefault("attnscope", "norm_eps");
constexpr bool kDefaultTieEmbeddings = configDefault("attnscope", "tie_embeddings") != 0.0;
constexpr double kDefaultRopeTheta = configDefault("attnscope", "rope.theta");
constexpr bool kDefaultCopeSepKey = configDefault("attnscope", "cope.sep_key") != 0.0;
constexpr bool kDefaultLowercase = configDefault("attnscope", "tokenizer.lowercase") != 0.0;
constexpr bool kDefaultBytesAddBos = configDefault("attnscope", "tokenizer.add_bos.bytes") != 0.0;
constexpr bool kDefaultWordAddBos = configDefault("attnscope", "tokenizer.add_bos.word") != 0.0;

void parseRope(const json& section, RopeConfig& rope)
{
    requireObject(section, "rope");
    rejectUnknownFields(section, "rope.", {"theta", "style", "freqs"});
    rope.theta = kDefaultRopeTheta;
    if (const json* v = findField(section, "theta"))
        rope.theta = asNumber(*v, "rope.theta");
    if (const json* v = findField(section, "style"))
        rope.style = asEnum(*v, "rope.style", kRopeStyleNames);
    if (const json* v = findField(section, "freqs"))
        rope.freqs = asEnum(*v, "rope.freqs", kRopeFreqsNames);
}

void parseCope(const json& section, PositionKind position, CopeConfig& cope)
{
    requireObject(section, "cope");
    rejectUnknownFields(section, "cope.", {"npos", "scaling", "sep_key", "rope_query"});
    cope.sepKey = kDefaultCopeSepKey;
    if (const json* v = findField(section, "npos"))
        cope.npos = asInt(*v, "cope.npos");
    if (const json* v = findField(section, "scaling"))
        cope.scaling = asEnum(*v, "cope.scaling", kCopeScalingNames);
    if (const json* v = findField(section, "sep_key"))
        cope.sepKey = asBool(*v, "cope.sep_key");
    if (const json* v = findField(section, "rope_query")) {
        if (position != PositionKind::RopeCope)
            fail("\"cope.rope_query\" given but position is " + quoted(enumName(kPositionNames, position))
                + " (only \"rope+cope\" uses it)");
        cope.ropeQuery = asEnum(*v, "cope.rope_query", kCopeRopeQueryNames);
    }
}

void parseTokenizer(const json& section, TokenizerConfig& tok)
{
    requireObject(section, "tokenizer");
    rejectUnknownFields(section, "tokenizer.", {"type", "vocab", "lowercase", "add_bos"});
    tok.type = asEnum(requireField(section, "tokenizer.", "type"), "tokenizer.type", kTokenizerNames);
    if (tok.type == TokenizerType::Bytes) {
        for (const char* name : {"vocab", "lowercase"})
            if (findField(section, name))
                fail(quoted(std::string("tokenizer.") + name)
                    + " given but tokenizer.type is \"bytes\" (only \"word\" uses it)");
        tok.addBos = kDefaultBytesAddBos;
    } else {
        tok.vocabFile = asString(requireField(section, "tokenizer.", "vocab"), "tokenizer.vocab");
        // The counting tokenizer inserts no BOS, hence the different default.
        tok.addBos = kDefaultWordAddBos;
        tok.lowercase = kDefaultLowercase;
        if (const json* v = findField(section, "lowercase"))
            tok.lowercase = asBool(*v, "tokenizer.lowercase");
    }
    if (const json* v = findField(section, "add_bos"))
        tok.addBos = asBool(*v, "tokenizer.add_bos");
}

ModelConfig parseRoot(const json& root)
{
    if (!root.is_object())
        fail("the top level must be a JSON object (got " + shortDump(root) + ")");
    rejectUnknownFields(root, "",
        {"format", "format_version", "vocab_size", "d_model", "n_layers", "n_heads", "n_kv_heads", "head_dim",
            "ffn_hidden", "norm_eps", "tie_embeddings", "max_seq_len", "attention", "gqa", "position", "rope", "cope",
            "tokenizer"});

    // The format marker first: a foreign JSON file should be told so, not get a list of missing fields.
    const std::string format = asString(requireField(root, "", "format"), "format");
    if (format != "attnscope-model")
        fail("\"format\" must be \"attnscope-model\" (got " + quoted(format) + ")");
    const int64_t version = asInt(requireField(root, "", "format_version"), "format_version");
    if (version != 1)
        fail("unsupported \"format_version\" " + std::to_string(version) + " (this build reads version 1)");

    ModelConfig c;
    c.normEps = kDefaultNormEps;
    c.tieEmbeddings = kDefaultTieEmbeddings;
    c.rope.theta = kDefaultRopeTheta;
    c.cope.sepKey = kDefaultCopeSepKey;
    c.vocabSize = asInt(requireField(root, "", "vocab_size"), "vocab_size");
    c.dModel = asInt(requireField(root, "", "d_model"), "d_model");
    c.nLayers = asInt(requireField(root, "", "n_layers"), "n_layers");
    c.nHeads = asInt(requireField(root, "", "n_heads"), "n_heads");
    const json* kv = findField(root, "n_kv_heads");
    c.nKvHeads = kv ? asInt(*kv, "n_kv_heads") : c.nHeads;
    c.headDim = asInt(requireField(root, "", "head_dim"), "head_dim");
    c.ffnHidden = asInt(requireField(root, "", "ffn_hidden"), "ffn_hidden");
    if (const json* v = findField(root, "norm_eps"))
        c.normEps = asNumber(*v, "norm_eps");
    if (const json* v = findField(root, "tie_embeddings"))
        c.tieEmbeddings = asBool(*v, "tie_embeddings");
    c.maxSeqLen = asInt(requireField(root, "", "max_seq_len"), "max_seq_len");
    c.attention = asEnum(requireField(root, "", "attention"), "attention", kAttentionNames);
    c.position = asEnum(requireField(root, "", "position"), "position", kPositionNames);

    if (const json* v = findField(root, "gqa")) {
        if (!c.isDiff())
            fail("\"gqa\" given but attention is " + quoted(toString(c.attention)) + " (only \"diff\" uses it)");
        c.gqa = asEnum(*v, "gqa", kGqaNames);
    }
    if (const json* v = findField(root, "rope")) {
        if (!c.hasRope())
            fail("\"rope\" given but position is " + quoted(toString(c.position))
                + " (only \"rope\" and \"rope+cope\" use it)");
        parseRope(*v, c.rope);
    }
    if (const json* v = findField(root, "cope")) {
        if (!c.hasCope())
            fail("\"cope\" given but position is " + quoted(toString(c.position))
                + " (only \"cope\" and \"rope+cope\" use it)");
        parseCope(*v, c.position, c.cope);
    }
    // The official CoPE default: one slot more than the context, since position 0 can occur.
    if (c.hasCope() && c.cope.npos == 0 && c.maxSeqLen < std::numeric_limits<int64_t>::max())
        c.cope.npos = defaultCopeNpos(c.maxSeqLen);
    parseTokenizer(requireField(root, "", "tokenizer"), c.tokenizer);
    return c;
}

// A vocab path is joined to the model directory, so it must not be able to leave it.
bool isPlainRelativePath(const std::string& name)
{
    if (name.empty() || name.front() == '/' || name.find('\\') != std::string::npos
        || name.find('\0') != std::string::npos)
        return false;
    std::size_t start = 0;
    while (true) {
        const std::size_t slash = name.find('/', start);
        const std::string part = name.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
        if (part.empty() || part == "..")
            return false;
        if (slash == std::string::npos)
            return true;
        start = slash + 1;
    }
}

} // namespace

std::string toString(AttentionKind kind)
{
    return enumName(kAttentionNames, kind);
}
std::string toString(PositionKind kind)
{
    return enumName(kPositionNames, kind);
}
std::string toString(RopeStyle style)
{
    return enumName(kRopeStyleNames, style);
}
std::string toString(RopeFreqs freqs)
{
    return enumName(kRopeFreqsNames, freqs);
}
std::string toString(CopeScaling scaling)
{
    return enumName(kCopeScalingNames, scaling);
}
std::string toString(CopeRopeQuery query)
{
    return enumName(kCopeRopeQueryNames, query);
}
std::string toString(GqaSemantics gqa)
{
    return enumName(kGqaNames, gqa);
}
std::string toString(TokenizerType type)
{
    const std::string own = enumName(kTokenizerNames, type);
    return own != "?" ? own : enumName(kImportedTokenizerNames, type);
}
std::string toString(RopeScalingType type)
{
    return enumName(kRopeScalingNames, type);
}
std::string toString(NormKind kind)
{
    return enumName(kNormNames, kind);
}
std::string toString(BlockLayout layout)
{
    return enumName(kBlockNames, layout);
}
std::string toString(MlpKind kind)
{
    return enumName(kMlpNames, kind);
}

Result<AttentionKind> parseAttentionKind(const std::string& text)
{
    AttentionKind kind {};
    if (lookupEnum(kAttentionNames, text, kind))
        return kind;
    return Status::error(
        "unknown attention kind " + quoted(text) + " (allowed: " + allowedNames(kAttentionNames) + ")");
}

Result<PositionKind> parsePositionKind(const std::string& text)
{
    PositionKind kind {};
    if (lookupEnum(kPositionNames, text, kind))
        return kind;
    return Status::error("unknown position kind " + quoted(text) + " (allowed: " + allowedNames(kPositionNames) + ")");
}

double lambdaInit(int64_t depth)
{
    return 0.8 - 0.6 * std::exp(-0.3 * static_cast<double>(depth));
}

namespace {

constexpr int64_t kMaxVocabSize = int64_t(1) << 24;
constexpr int64_t kMaxWidth = int64_t(1) << 17;
constexpr int64_t kMaxLayers = 1024;
constexpr int64_t kMaxHeads = 4096;
constexpr int64_t kMaxHeadDim = int64_t(1) << 14;
constexpr int64_t kMaxSeqLen = int64_t(1) << 26;

} // namespace

Status validateConfig(const ModelConfig& c)
{
    // Every problem at once: a person fixing a hand-written config should not have to iterate.
    std::vector<std::string> problems;
    // The upper bounds are far above any real model (Llama 3.1 405B: d_model 16384, 126 layers, 128 heads,
    // ffn 53248; Gemma: vocab 256000) and keep every size computed from them (tensor shapes, parameter counts,
    // the expected-tensor list) well inside int64 and memory.
    auto sized = [&problems](const char* field, int64_t value, int64_t most) {
        if (value <= 0)
            problems.push_back(quoted(field) + " must be > 0 (got " + std::to_string(value) + ")");
        else if (value > most)
            problems.push_back(
                quoted(field) + " must be at most " + std::to_string(most) + " (got " + std::to_string(value) + ")");
    };
    sized("vocab_size", c.vocabSize, kMaxVocabSize);
    sized("d_model", c.dModel, kMaxWidth);
    sized("n_layers", c.nLayers, kMaxLayers);
    sized("n_heads", c.nHeads, kMaxHeads);
    sized("n_kv_heads", c.nKvHeads, kMaxHeads);
    sized("head_dim", c.headDim, kMaxHeadDim);
    sized("ffn_hidden", c.ffnHidden, kMaxWidth * 16);
    sized("max_seq_len", c.maxSeqLen, kMaxSeqLen);
    if (c.hasCope() && c.cope.npos > kMaxSeqLen + 1)
        problems.push_back("\"cope.npos\" must be at most " + std::to_string(kMaxSeqLen + 1) + " (got "
            + std::to_string(c.cope.npos) + ")");
    if (c.nHeads > 0 && c.nKvHeads > 0 && c.nHeads % c.nKvHeads != 0)
        problems.push_back("\"n_heads\" (" + std::to_string(c.nHeads) + ") must be a multiple of \"n_kv_heads\" ("
            + std::to_string(c.nKvHeads) + ")");
    if (!(c.normEps > 0.0) || !std::isfinite(c.normEps))
        problems.push_back("\"norm_eps\" must be a finite number > 0 (got " + formatNumber(c.normEps) + ")");
    if (c.hasRope()) {
        // RoPE rotates feature pairs, so an odd width leaves one feature without a partner.
        if (c.headDim > 0 && c.headDim % 2 != 0)
            problems.push_back(
                "\"head_dim\" must be even when position uses RoPE (got " + std::to_string(c.headDim) + ")");
        if (!(c.rope.theta > 0.0) || !std::isfinite(c.rope.theta))
            problems.push_back("\"rope.theta\" must be a finite number > 0 (got " + formatNumber(c.rope.theta) + ")");
    }
    if (c.hasCope() && c.cope.npos < 2)
        problems.push_back("\"cope.npos\" must be >= 2 (got " + std::to_string(c.cope.npos) + ")");
    if (c.tokenizer.type == TokenizerType::Bytes && c.vocabSize != 259)
        problems.push_back("\"vocab_size\" must be 259 for the bytes tokenizer (256 bytes + BOS, EOS, PAD; got "
            + std::to_string(c.vocabSize) + ")");
    if (c.tokenizer.type == TokenizerType::Word && !isPlainRelativePath(c.tokenizer.vocabFile))
        problems.push_back("\"tokenizer.vocab\" must be a file name relative to the model directory, without \"..\" "
                           "(got "
            + quoted(c.tokenizer.vocabFile) + ")");
    if (problems.empty())
        return Status::ok();
    std::string message;
    for (const auto& p : problems)
        message += (message.empty() ? "" : "; ") + p;
    return Status::error(message);
}

Result<ModelConfig> parseConfig(const std::string& jsonText)
{
    try {
        // A silently ignored duplicate value is exactly the kind of mistake a strict format exists to catch.
        json root;
        if (Status parsed = detail::parseUntrustedJson(jsonText, {}, root); !parsed)
            return Status::error("config.json: " + parsed.message());
        ModelConfig config = parseRoot(root);
        Status valid = validateConfig(config);
        if (!valid)
            return Status::error("config.json: " + valid.message());
        return config;
    } catch (const ConfigError& e) {
        return Status::error("config.json: " + std::string(e.what()));
    } catch (const std::exception& e) {
        return Status::error("config.json: " + std::string(e.what()));
    }
}

Result<ModelConfig> loadConfig(const std::string& path)
{
    Result<std::string> text = readRegularFile(path, detail::kMaxConfigBytes);
    if (!text)
        return text.status();
    Result<ModelConfig> config = parseConfig(*text);
    if (config)
        return config;
    // Name the actual file: with several model directories open, "config.json" alone is ambiguous.
    const std::string prefix = "config.json: ";
    std::string message = config.message();
    if (message.compare(0, prefix.size(), prefix) == 0)
        message.erase(0, prefix.size());
    return Status::error(path + ": " + message);
}

std::string configToJson(const ModelConfig& c)
{
    // ordered_json keeps the documented key order, so written files diff cleanly.
    nlohmann::ordered_json j;
    j["format"] = "attnscope-model";
    j["format_version"] = 1;
    j["vocab_size"] = c.vocabSize;
    j["d_model"] = c.dModel;
    j["n_layers"] = c.nLayers;
    j["n_heads"] = c.nHeads;
    j["n_kv_heads"] = c.nKvHeads;
    j["head_dim"] = c.headDim;
    j["ffn_hidden"] = c.ffnHidden;
    j["norm_eps"] = c.normEps;
    j["tie_embeddings"] = c.tieEmbeddings;
    j["max_seq_len"] = c.maxSeqLen;
    j["attention"] = toString(c.attention);
    if (c.isDiff())
        j["gqa"] = toString(c.gqa);
    j["position"] = toString(c.position);
    if (c.hasRope()) {
        nlohmann::ordered_json rope;
        rope["theta"] = c.rope.theta;
        rope["style"] = toString(c.rope.style);
        rope["freqs"] = toString(c.rope.freqs);
        j["rope"] = rope;
    }
    if (c.hasCope()) {
        nlohmann::ordered_json cope;
        cope["npos"] = c.cope.npos;
        cope["scaling"] = toString(c.cope.scaling);
        cope["sep_key"] = c.cope.sepKey;
        if (c.position == PositionKind::RopeCope)
            cope["rope_query"] = toString(c.cope.ropeQuery);
        j["cope"] = cope;
    }
    nlohmann::ordered_json tok;
    tok["type"] = toString(c.tokenizer.type);
    if (c.tokenizer.type == TokenizerType::Word) {
        tok["vocab"] = c.tokenizer.vocabFile;
        tok["lowercase"] = c.tokenizer.lowercase;
    }
    tok["add_bos"] = c.tokenizer.addBos;
    j["tokenizer"] = tok;
    return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

} // namespace attn
