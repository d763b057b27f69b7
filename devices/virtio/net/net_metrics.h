// The net device's metrics group: Firecracker's net_<iface_id>, field for field and in its order
// (tools match the names).
#pragma once

#include <string_view>

#include "devices/virtio/net/net_device.h"
#include "vmm/base/metrics_writer.h"

namespace ember::virtio {

MetricGroup net_metrics(std::string_view iface_id, const NetCounters& c);

// Firecracker's "mmds" group. It is global there, one per VMM, so the caller passes the sum of
// every net device's stack counters (NetDevice::mmds_counters(), MmdsCounters::operator+=), with
// the MMDS service's token counts in rx_invalid_token and rx_no_token.
MetricGroup mmds_metrics(const mmds_net::MmdsCounters& sum);

}  // namespace ember::virtio
