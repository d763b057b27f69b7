// The i8042 controller's metrics group: Firecracker's "i8042" (tools match the names).
#pragma once

#include "devices/legacy/i8042.h"
#include "vmm/base/metrics_writer.h"

namespace ember {

MetricGroup i8042_metrics(const I8042::Counters& c);

}  // namespace ember
