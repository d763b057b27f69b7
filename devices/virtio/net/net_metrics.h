// The net device's metrics group: Firecracker's net_<iface_id>, field for field and in its order
// (tools match the names).
#pragma once

#include <string_view>

#include "devices/virtio/net/net_device.h"
#include "vmm/base/metrics_writer.h"

namespace ember::virtio {

MetricGroup net_metrics(std::string_view iface_id, const NetCounters& c);

}  // namespace ember::virtio
