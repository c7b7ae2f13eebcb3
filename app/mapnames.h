// SPDX-License-Identifier: GPL-3.0-or-later
// What a user reads for each map kind: the short label of colour bars and the read-out, and the panel title
// with the formula the model actually computes (RoPE, CoPE and the CoPE scaling change it).
#pragma once

#include "attnscope/config.h"
#include "attnscope/maps.h"

#include <QString>

namespace attn::app {

/// Short label, written as the titles write it: "λ·A2" (not "LA2"), "D/(1−λ)" (not "DN").
QString kindLabel(MapKind kind);
/// The label of a kind given by its core name ("LA2" -> "λ·A2"); unknown names come back unchanged.
QString kindLabel(const QString& coreName);
/// Panel title: the label and the formula used by a model with this config.
QString mapTitle(MapKind kind, const ModelConfig& config);
/// λ above 1 makes 1 − λ negative, so D/(1 − λ) has the opposite sign of D: a sentence saying so, empty otherwise.
QString lambdaWarning(double lambda);

} // namespace attn::app
