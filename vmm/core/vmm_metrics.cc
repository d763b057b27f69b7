// Vmm's logger and metrics: PUT /logger and PUT /metrics (or the config file, or the command
// line) before boot, FlushMetrics and the 60 s timer at any time. The metrics line carries
// Firecracker's groups for what Ember has: logger, latencies_us, vcpu, uart, i8042,
// block_<id> and net_<id> from the VMM, and whatever the registered sources add (api_server and
// the *_api_requests groups from main). Thread: the vmm thread, reached through VmmThread::call.
#include <chrono>
#include <mutex>
#include <string>

#include "devices/legacy/i8042_metrics.h"
#include "devices/legacy/serial_metrics.h"
#include "devices/virtio/block/block_device.h"
#include "devices/virtio/block/block_metrics.h"
#include "devices/virtio/net/net_device.h"
#include "devices/virtio/net/net_metrics.h"
#include "vmm/base/log.h"
#include "vmm/core/vm_phase.h"
#include "vmm/core/vmm.h"

namespace ember {
namespace {

uint64_t utc_now_ms() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
}

}  // namespace

Result<void> Vmm::set_logger(const LoggerConfig& config) {
    return in_phase(kPhaseBeforeBoot, "PUT /logger", [&]() -> Result<void> {
        EMBER_TRY(apply_logger(config));
        resources_.set_logger(config);
        return ok();
    });
}

Result<void> Vmm::set_metrics(const MetricsConfig& config) {
    return in_phase(kPhaseBeforeBoot, "PUT /metrics", [&]() -> Result<void> {
        EMBER_TRY(apply_metrics(config));
        resources_.set_metrics(config);
        return ok();
    });
}

Result<void> Vmm::flush_metrics() {
    // As Firecracker's preboot controller: FlushMetrics is refused before the VM starts.
    return in_phase(kPhaseStarted, "FlushMetrics", [this]() -> Result<void> {
        // As Firecracker: flushing metrics that have no destination is not an error.
        if (!metrics_) return ok();
        return write_metrics();
    });
}

Result<void> Vmm::apply_logger(const LoggerConfig& config) {
    log::Options options = options_.log;
    if (config.level) options.level = EMBER_TRY(log::parse_level(*config.level));
    options.show_level = config.show_level;
    options.show_origin = config.show_log_origin;
    options.module = config.module.value_or("");
    // Without log_path the lines keep going where they went (stderr or --log-path).
    if (Result<void> configured =
            log::configure(options, config.log_path.value_or(""), /*create=*/false);
        !configured) {
        ++log_fails_;
        return configured;
    }
    options_.log = options;
    return ok();
}

Result<void> Vmm::apply_metrics(const MetricsConfig& config) {
    if (metrics_) {
        // Firecracker refuses it too: counters already written elsewhere would be lost.
        return Error::invalid("Metrics initialization error",
                              "Reinitialization of metrics not allowed.");
    }
    MetricsWriter writer = EMBER_TRY(MetricsWriter::open(config.metrics_path));
    EMBER_TRY(metrics_timer_.arm_oneshot(options_.metrics_period));
    metrics_.emplace(std::move(writer));
    return ok();
}

std::vector<MetricGroup> Vmm::collect_metrics() {
    std::vector<MetricGroup> groups;
    groups.push_back({"logger",
                      {{"missed_metrics_count", metrics_fails_},
                       {"metrics_fails", metrics_fails_},
                       {"missed_log_count", log::missed_lines()},
                       {"log_fails", log_fails_}}});
    const VmSnapshots::Latencies& snapshot = snapshots_.latencies();
    groups.push_back(
        {"latencies_us",
         {{"pause_vm", runtime_.pause_vm_us(), MetricKind::kGauge},
          {"resume_vm", runtime_.resume_vm_us(), MetricKind::kGauge},
          {"full_create_snapshot", snapshot.full_create_snapshot_us, MetricKind::kGauge},
          {"diff_create_snapshot", snapshot.diff_create_snapshot_us, MetricKind::kGauge},
          {"load_snapshot", snapshot.load_snapshot_us, MetricKind::kGauge}}});
    Machine* machine = runtime_.machine();
    if (machine) {
        uint64_t runs = 0;
        uint64_t failures = 0;
        for (const auto& runner : machine->runners) {
            runs += runner->run_count();
            VcpuRunner::Outcome outcome = runner->outcome();
            if (outcome == VcpuRunner::Outcome::kError ||
                outcome == VcpuRunner::Outcome::kGuestCrash) {
                ++failures;
            }
        }
        groups.push_back({"vcpu", {{"failures", failures}, {"kvm_run_count", runs}}});
        if (Serial8250* serial = machine->devices.serial()) {
            std::lock_guard lock(serial->mutex());
            groups.push_back(serial_metrics(serial->counters()));
        }
        if (I8042* i8042 = machine->devices.i8042()) {
            std::lock_guard lock(i8042->mutex());
            groups.push_back(i8042_metrics(i8042->counters()));
        }
    }
    if (machine) {
        // Device state is touched with the transport's mutex held (see DeviceManager).
        for (const DriveConfig& drive : resources_.config().drives) {
            if (auto block = machine->devices.find<virtio::BlockDevice>(drive.drive_id)) {
                std::lock_guard lock(block->transport->mutex());
                groups.push_back(virtio::block_metrics(drive.drive_id, block->device->counters()));
            }
        }
        // Firecracker's "mmds" group is one per VMM: the sum over every interface's stack, and
        // the (one) service's token counts.
        virtio::mmds_net::MmdsCounters mmds;
        bool serves_mmds = false;
        for (const NetConfig& net : resources_.config().nets) {
            if (auto attached = machine->devices.find<virtio::NetDevice>(net.iface_id)) {
                std::lock_guard lock(attached->transport->mutex());
                groups.push_back(virtio::net_metrics(net.iface_id, attached->device->counters()));
                if (const auto* counters = attached->device->mmds_counters()) {
                    mmds += *counters;
                    serves_mmds = true;
                }
            }
        }
        if (const mmds::MmdsServiceCounters* tokens = mmds_.service_counters()) {
            mmds.rx_no_token = tokens->rx_no_token;
            mmds.rx_invalid_token = tokens->rx_invalid_token;
        }
        if (serves_mmds) groups.push_back(virtio::mmds_metrics(mmds));
    }
    for (const MetricsSource& source : metrics_sources_) source(groups);
    return groups;
}

Result<void> Vmm::write_metrics() {
    std::vector<MetricGroup> groups = collect_metrics();
    Result<void> written = metrics_->flush(groups, utc_now_ms());
    if (!written) {
        ++metrics_fails_;
        EMBER_WARN("metrics not written: {}", written.error().message());
    }
    return written;
}

void Vmm::on_metrics_timer() {
    (void)metrics_timer_.read();
    if (!metrics_) return;
    (void)write_metrics();
    if (Result<void> armed = metrics_timer_.arm_oneshot(options_.metrics_period); !armed) {
        EMBER_ERROR("metrics timer: {}", armed.error().message());
    }
}

}  // namespace ember
