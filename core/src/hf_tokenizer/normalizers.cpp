// SPDX-License-Identifier: GPL-3.0-or-later
// Normalizers: NFC, NFD, NFKC, NFKD, Lowercase, Strip, Prepend, Replace, Sequence.
#include "hf_tokenizer/components.h"
#include "hf_tokenizer/pattern.h"
#include "hf_tokenizer/unicode.h"

namespace attn::hf {

namespace {

class UnicodeNormalizer final : public Normalizer {
public:
    explicit UnicodeNormalizer(NormalizationForm form)
        : m_form(form)
    {
    }
    Status normalize(NormalizedString& text) const override
    {
        text.transform(normalizeChanges(text.get(), m_form), 0);
        return Status::ok();
    }

private:
    NormalizationForm m_form;
};

class Lowercase final : public Normalizer {
public:
    Status normalize(NormalizedString& text) const override
    {
        text.transform(lowercaseChanges(text.get()), 0);
        return Status::ok();
    }
};

class Strip final : public Normalizer {
public:
    Strip(bool left, bool right)
        : m_left(left)
        , m_right(right)
    {
    }
    Status normalize(NormalizedString& text) const override
    {
        text.lrstrip(m_left, m_right);
        return Status::ok();
    }

private:
    bool m_left, m_right;
};

class Prepend final : public Normalizer {
public:
    explicit Prepend(std::string prefix)
        : m_prefix(std::move(prefix))
    {
    }
    Status normalize(NormalizedString& text) const override
    {
        text.prepend(m_prefix); // a no-op on empty text, as in tokenizers
        return Status::ok();
    }

private:
    std::string m_prefix;
};

class Replace final : public Normalizer {
public:
    Replace(Pattern pattern, std::string content)
        : m_pattern(std::move(pattern))
        , m_content(std::move(content))
    {
    }
    Status normalize(NormalizedString& text) const override
    {
        text.replace(m_pattern.find(text.get()), m_content);
        return Status::ok();
    }

private:
    Pattern m_pattern;
    std::string m_content;
};

class SequenceNormalizer final : public Normalizer {
public:
    explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts)
        : m_parts(std::move(parts))
    {
    }
    Status normalize(NormalizedString& text) const override
    {
        for (const auto& part : m_parts)
            if (Status s = part->normalize(text); !s)
                return s;
        return Status::ok();
    }

private:
    std::vector<std::unique_ptr<Normalizer>> m_parts;
};

} // namespace

Result<std::unique_ptr<Normalizer>> parseNormalizer(const nlohmann::json& node, const std::string& where)
{
    const std::string type = typeOf(node, where);
    if (type.empty())
        return fieldError(where, "has no \"type\"");
    if (type == "NFC")
        return std::unique_ptr<Normalizer>(new UnicodeNormalizer(NormalizationForm::NFC));
    if (type == "NFD")
        return std::unique_ptr<Normalizer>(new UnicodeNormalizer(NormalizationForm::NFD));
    if (type == "NFKC")
        return std::unique_ptr<Normalizer>(new UnicodeNormalizer(NormalizationForm::NFKC));
    if (type == "NFKD")
        return std::unique_ptr<Normalizer>(new UnicodeNormalizer(NormalizationForm::NFKD));
    if (type == "Lowercase")
        return std::unique_ptr<Normalizer>(new Lowercase());
    if (type == "Strip")
        return std::unique_ptr<Normalizer>(new Strip(node.value("strip_left", true), node.value("strip_right", true)));
    if (type == "Prepend") {
        if (!node.contains("prepend") || !node["prepend"].is_string())
            return fieldError(where, "Prepend has no \"prepend\" string");
        return std::unique_ptr<Normalizer>(new Prepend(node["prepend"].get<std::string>()));
    }
    if (type == "Replace") {
        auto pattern = parsePattern(node.value("pattern", nlohmann::json()), where + ".pattern");
        if (!pattern)
            return pattern.status();
        if (!node.contains("content") || !node["content"].is_string())
            return fieldError(where, "Replace has no \"content\" string");
        return std::unique_ptr<Normalizer>(new Replace(std::move(pattern).value(), node["content"].get<std::string>()));
    }
    if (type == "Sequence") {
        if (!node.contains("normalizers") || !node["normalizers"].is_array())
            return fieldError(where, "Sequence has no \"normalizers\" list");
        std::vector<std::unique_ptr<Normalizer>> parts;
        for (size_t i = 0; i < node["normalizers"].size(); ++i) {
            auto part = parseNormalizer(node["normalizers"][i], where + ".normalizers[" + std::to_string(i) + "]");
            if (!part)
                return part.status();
            parts.push_back(std::move(part).value());
        }
        return std::unique_ptr<Normalizer>(new SequenceNormalizer(std::move(parts)));
    }
    return unsupportedType("normalizer", type, where);
}

} // namespace attn::hf
