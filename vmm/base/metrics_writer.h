// MetricsWriter: Firecracker's metrics output. Each flush writes one JSON object on one line:
// {"utc_timestamp_ms": ..., "<group>": {"<metric>": value, ...}, ...}, with every standard group
// present even when nothing reports into it. Counters are written as the change since the
// previous flush (Firecracker's SharedIncMetric), gauges as they are (StoreMetric).
// It knows no device: each owner hands over a plain counters struct through metric_group().
// Thread: whichever thread flushes (the vmm thread); not shared.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/base/unique_fd.h"

namespace ember {

enum class MetricKind { kCounter, kGauge };

struct Metric {
    std::string_view name;  // A string literal of the counters struct.
    uint64_t value = 0;
    MetricKind kind = MetricKind::kCounter;
};

struct MetricGroup {
    std::string name;  // "vcpu", "block_rootfs", ...
    std::vector<Metric> metrics;
};

// Turns a counters struct into a group. The struct lists its fields once:
//   struct UartCounters {
//       uint64_t read_count = 0, write_count = 0;
//       template <typename F> void visit(F&& f) const {
//           f("read_count", read_count);
//           f("write_count", write_count);
//       }
//   };
// and may pass MetricKind::kGauge as a third argument for absolute values.
template <typename Counters>
MetricGroup metric_group(std::string name, const Counters& counters) {
    MetricGroup group{std::move(name), {}};
    counters.visit(
        [&group](std::string_view metric, uint64_t value, MetricKind kind = MetricKind::kCounter) {
            group.metrics.push_back({metric, value, kind});
        });
    return group;
}

// The groups Firecracker always emits (docs/metrics.md), empty when nothing reports into them.
inline constexpr std::string_view kStandardMetricGroups[] = {
    "api_server",
    "balloon",
    "block",
    "deprecated_api",
    "entropy",
    "get_api_requests",
    "i8042",
    "latencies_us",
    "logger",
    "mmds",
    "net",
    "patch_api_requests",
    "put_api_requests",
    "seccomp",
    "signals",
    "uart",
    "vcpu",
    "vmm",
    "vsock",
};

class MetricsWriter {
public:
    // Opens `path` for appending, non-blocking so a FIFO nobody reads never stalls the VMM
    // (a FIFO is opened read-write so that the open itself does not block).
    static Result<MetricsWriter> open(const std::string& path);

    // Renders one line (with '\n') and advances the counters' baselines.
    std::string render_line(std::span<const MetricGroup> groups, uint64_t utc_timestamp_ms);
    // Renders and writes one line; a short or failed write is an error (logger.missed_metrics).
    Result<void> flush(std::span<const MetricGroup> groups, uint64_t utc_timestamp_ms);

    MetricsWriter() = default;  // Writes nowhere; render_line still works.

private:
    explicit MetricsWriter(UniqueFd fd) : fd_(std::move(fd)) {}

    UniqueFd fd_;
    std::map<std::string, uint64_t, std::less<>> previous_;  // "group.metric" -> last value.
};

}  // namespace ember
