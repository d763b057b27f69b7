// The serial port's metrics group: Firecracker's "uart" (tools match the names).
#pragma once

#include "devices/legacy/serial_8250.h"
#include "vmm/base/metrics_writer.h"

namespace ember {

MetricGroup serial_metrics(const Serial8250::Counters& c);

}  // namespace ember
