// SPDX-License-Identifier: GPL-3.0-or-later
#include "colorcontrols.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QLabel>

namespace attn::app {

ColorControls::ColorControls(QWidget* parent)
    : QWidget(parent)
{
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    m_scale = new QComboBox(this);
    m_scale->addItem(tr("linear"), static_cast<int>(ColorScaleType::Linear));
    m_scale->addItem(tr("log"), static_cast<int>(ColorScaleType::Log));
    m_scale->setToolTip(tr("Colour scale of probability maps (signed maps stay linear)"));
    m_shared = new QCheckBox(tr("shared range"), this);
    m_shared->setToolTip(tr("One colour range for all panels of the view instead of one per panel"));
    m_clamp = new QDoubleSpinBox(this);
    m_clamp->setRange(50.0, 100.0);
    m_clamp->setDecimals(1);
    m_clamp->setSingleStep(0.5);
    m_clamp->setSuffix(tr(" %"));
    m_clamp->setValue(100.0);
    m_clamp->setToolTip(tr("Clamp the colour range to this percentile of the values (100 = the maximum)"));
    m_sequential = new QComboBox(this);
    m_sequential->addItem(tr("viridis"), static_cast<int>(GradientChoice::Viridis));
    m_sequential->addItem(tr("magma"), static_cast<int>(GradientChoice::Magma));
    m_sequential->addItem(tr("grays"), static_cast<int>(GradientChoice::Grays));
    m_sequential->setToolTip(tr("Gradient for probabilities, gates and positions"));
    m_diverging = new QComboBox(this);
    m_diverging->addItem(tr("blue–white–red"), static_cast<int>(GradientChoice::BlueWhiteRed));
    m_diverging->setToolTip(tr("Gradient for signed maps (D, position logits), centred on 0"));
    layout->addWidget(new QLabel(tr("Colour:"), this));
    layout->addWidget(m_scale);
    layout->addWidget(m_shared);
    layout->addWidget(new QLabel(tr("clamp"), this));
    layout->addWidget(m_clamp);
    layout->addWidget(m_sequential);
    layout->addWidget(m_diverging);
    connect(m_scale, qOverload<int>(&QComboBox::currentIndexChanged), this, &ColorControls::emitChanged);
    connect(m_shared, &QCheckBox::toggled, this, &ColorControls::emitChanged);
    connect(m_clamp, qOverload<double>(&QDoubleSpinBox::valueChanged), this, &ColorControls::emitChanged);
    connect(m_sequential, qOverload<int>(&QComboBox::currentIndexChanged), this, &ColorControls::emitChanged);
    connect(m_diverging, qOverload<int>(&QComboBox::currentIndexChanged), this, &ColorControls::emitChanged);
}

ColorOptions ColorControls::options() const
{
    ColorOptions o;
    o.scale = static_cast<ColorScaleType>(m_scale->currentData().toInt());
    o.sharedRange = m_shared->isChecked();
    o.percentileClamp = m_clamp->value();
    o.sequential = static_cast<GradientChoice>(m_sequential->currentData().toInt());
    o.diverging = static_cast<GradientChoice>(m_diverging->currentData().toInt());
    return o;
}

void ColorControls::setOptions(const ColorOptions& options)
{
    m_updating = true; // one optionsChanged for the whole update, not one per control
    m_scale->setCurrentIndex(m_scale->findData(static_cast<int>(options.scale)));
    m_shared->setChecked(options.sharedRange);
    m_clamp->setValue(options.percentileClamp);
    m_sequential->setCurrentIndex(std::max(0, m_sequential->findData(static_cast<int>(options.sequential))));
    m_diverging->setCurrentIndex(std::max(0, m_diverging->findData(static_cast<int>(options.diverging))));
    m_updating = false;
    emitChanged();
}

void ColorControls::emitChanged()
{
    if (!m_updating)
        Q_EMIT optionsChanged(options());
}

} // namespace attn::app
