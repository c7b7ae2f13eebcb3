// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "engine.h"

#include <QString>

namespace attn::app {

/// The model dock's summary of a model, as rich text: its shape, where it runs, where it lives (a server, and whether
/// that still answers) and what the importer read from a Hugging Face folder or checkpoint.
QString modelSummaryHtml(const ModelInfo& info);

} // namespace attn::app
