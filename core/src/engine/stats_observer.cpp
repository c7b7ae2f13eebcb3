// SPDX-License-Identifier: GPL-3.0-or-later
#include "engine/stats_observer.h"

#include "engine/head_stats.h"

namespace attn::engine {

namespace {

/// The layer's attention (A, or D for DIFF) and CoPE gates, as the attention code hands them over, into the
/// device-side per-head reductions of HeadStatsCollector.
class DeviceHeadStats : public HeadStatsObserver {
public:
    DeviceHeadStats(const ModelConfig& config, int64_t seqLen, double lambda, const SpanSpec& span)
        : m_attention(config.isDiff() ? MapKind::D : MapKind::A)
        , m_gateGroups(!config.hasCope() ? 0
                  : config.isDiff()      ? 2
                                         : 1)
        , m_collector(seqLen, config.nHeads, m_attention, lambda, m_gateGroups,
              span.active() ? std::optional<SpanQuery>(SpanQuery {span.queryRows, span.begin, span.end, span.noiseEnd})
                            : std::nullopt)
    {
    }

    bool wants(MapKind kind) const override { return kind == m_attention || gateGroup(kind) >= 0; }

    void add(MapKind kind, const at::Tensor& perHead, int64_t q0) override
    {
        if (kind == m_attention)
            m_collector.addAttention(perHead, q0);
        else if (const int64_t group = gateGroup(kind); group >= 0)
            m_collector.addGates(group, perHead, q0);
    }

    std::vector<HeadMetrics> metrics(int64_t layer) const override { return m_collector.metrics(layer); }
    std::vector<SpanAttention> spans() const override { return m_collector.spans(); }

private:
    /// 0 for G / G1, 1 for G2, -1 for kinds that are not this model's gates.
    int64_t gateGroup(MapKind kind) const
    {
        if (m_gateGroups == 1 && kind == MapKind::G)
            return 0;
        if (m_gateGroups == 2 && (kind == MapKind::G1 || kind == MapKind::G2))
            return kind == MapKind::G1 ? 0 : 1;
        return -1;
    }

    MapKind m_attention;
    int64_t m_gateGroups;
    HeadStatsCollector m_collector;
};

} // namespace

std::unique_ptr<HeadStatsObserver> makeHeadStatsObserver(
    const ModelConfig& config, int64_t seqLen, double lambda, const SpanSpec& span)
{
    return std::make_unique<DeviceHeadStats>(config, seqLen, lambda, span);
}

} // namespace attn::engine
