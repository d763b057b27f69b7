// The block device's metrics group: Firecracker's block_<drive_id>, field for field and in its
// order (tools match the names).
#pragma once

#include <string_view>

#include "devices/virtio/block/block_device.h"
#include "vmm/base/metrics_writer.h"

namespace ember::virtio {

MetricGroup block_metrics(std::string_view drive_id, const BlockCounters& c);

}  // namespace ember::virtio
