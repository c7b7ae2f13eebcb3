// SPDX-License-Identifier: GPL-3.0-or-later
#include "heatmapticks.h"

namespace attn::app::panel {

QString displayToken(const QString& token)
{
    // Control characters would break the axis layout; show visible stand-ins instead.
    QString shown = token;
    shown.replace(QLatin1Char('\n'), QStringLiteral("\u21b5"));
    shown.replace(QLatin1Char('\r'), QStringLiteral("\u240d"));
    shown.replace(QLatin1Char('\t'), QStringLiteral("\u2192"));
    return QString::fromStdString(elideLabel(shown.toStdString(), kMaxLabelChars));
}

} // namespace attn::app::panel
