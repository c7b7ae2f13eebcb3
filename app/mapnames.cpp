// SPDX-License-Identifier: GPL-3.0-or-later
#include "mapnames.h"

#include <QCoreApplication>

namespace attn::app {

QString kindLabel(MapKind kind)
{
    switch (kind) {
    case MapKind::LA2:
        return QStringLiteral("λ·A2");
    case MapKind::DN:
        return QStringLiteral("D/(1−λ)");
    default:
        return QString::fromStdString(toString(kind));
    }
}

QString kindLabel(const QString& coreName)
{
    auto kind = parseMapKind(coreName.toStdString());
    return kind ? kindLabel(*kind) : coreName;
}

namespace {

/// softmax argument of one attention map: q·k scaled, plus CoPE's position logits where the model adds them.
QString softmaxOf(const ModelConfig& config, const QString& qk, const QString& bias)
{
    if (!config.hasCope())
        return QStringLiteral("softmax(%1/√d)").arg(qk);
    // cope.md 6: the released code divides the position term by √d too; the paper's appendix does not.
    return config.cope.scaling == CopeScaling::Code ? QStringLiteral("softmax((%1 + %2)/√d)").arg(qk, bias)
                                                    : QStringLiteral("softmax(%1/√d + %2)").arg(qk, bias);
}

QString withRope(const ModelConfig& config, const QString& title)
{
    const bool rope = config.position == PositionKind::Rope || config.position == PositionKind::RopeCope;
    return rope ? title + QStringLiteral(", RoPE") : title;
}

} // namespace

QString mapTitle(MapKind kind, const ModelConfig& config)
{
    switch (kind) {
    case MapKind::A:
        return withRope(config, QStringLiteral("A = ") + softmaxOf(config, QStringLiteral("QKᵀ"), QStringLiteral("B")));
    case MapKind::A1:
        return withRope(
            config, QStringLiteral("A1 = ") + softmaxOf(config, QStringLiteral("Q1K1ᵀ"), QStringLiteral("B1")));
    case MapKind::A2:
        return withRope(
            config, QStringLiteral("A2 = ") + softmaxOf(config, QStringLiteral("Q2K2ᵀ"), QStringLiteral("B2")));
    case MapKind::LA2:
        return QStringLiteral("λ·A2");
    case MapKind::D:
        return QStringLiteral("D = A1 − λ·A2");
    case MapKind::DN:
        return QStringLiteral("D/(1−λ)  normalised D");
    case MapKind::G:
        return QStringLiteral("G  CoPE gates σ(q·k/√d)");
    case MapKind::P:
        return QStringLiteral("P  CoPE positions");
    case MapKind::B:
        return QStringLiteral("B  position logits");
    case MapKind::G1:
        return QStringLiteral("G1  gates, group 1");
    case MapKind::P1:
        return QStringLiteral("P1  positions, group 1");
    case MapKind::B1:
        return QStringLiteral("B1  position logits, group 1");
    case MapKind::G2:
        return QStringLiteral("G2  gates, group 2");
    case MapKind::P2:
        return QStringLiteral("P2  positions, group 2");
    case MapKind::B2:
        return QStringLiteral("B2  position logits, group 2");
    case MapKind::S:
        return QStringLiteral("S  logits");
    case MapKind::S1:
        return QStringLiteral("S1  logits, group 1");
    case MapKind::S2:
        return QStringLiteral("S2  logits, group 2");
    }
    return kindLabel(kind);
}

QString lambdaWarning(double lambda)
{
    if (!(lambda > 1.0))
        return QString();
    return QCoreApplication::translate("attn::app",
        "λ = %1 > 1: 1 − λ is negative, so D/(1−λ) has the opposite sign of D (rows of D sum to 1 − λ < 0)")
        .arg(lambda, 0, 'f', 3);
}

} // namespace attn::app
