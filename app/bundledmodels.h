// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QString>
#include <QStringList>

namespace attn::app {

/// The bundled demo model folders: $ATTNSCOPE_MODELS, else <prefix>/share/attnscope/models next to an installed
/// binary, else the source tree's resources/models; the CoPE counting model first (it shows the most).
QStringList bundledModels();

/// The bundled model folder of that name ("needles-diff-rope"), or empty when it is not installed.
QString bundledModel(const QString& name);

} // namespace attn::app
