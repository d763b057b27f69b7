#include "devices/legacy/serial_metrics.h"

namespace ember {

MetricGroup serial_metrics(const Serial8250::Counters& c) {
    return {"uart",
            {{"write_count", c.bytes_out},
             {"read_count", c.bytes_in},
             {"missed_write_count", c.missed_write},
             {"missed_read_count", c.dropped_in}}};
}

}  // namespace ember
