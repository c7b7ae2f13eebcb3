// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "mapmath.h"

#include <QWidget>

class QComboBox;
class QDoubleSpinBox;
class QCheckBox;

namespace attn::app {

/** @brief The colour controls of the map views: linear/log, per-map vs shared range, percentile clamp, gradients. */
class ColorControls : public QWidget {
    Q_OBJECT
public:
    explicit ColorControls(QWidget* parent = nullptr);
    ColorOptions options() const;
    void setOptions(const ColorOptions& options);

Q_SIGNALS:
    void optionsChanged(const attn::app::ColorOptions& options);

private:
    void emitChanged();
    QComboBox* m_scale = nullptr;
    QCheckBox* m_shared = nullptr;
    QDoubleSpinBox* m_clamp = nullptr;
    QComboBox* m_sequential = nullptr;
    QComboBox* m_diverging = nullptr;
    bool m_updating = false;
};

} // namespace attn::app
