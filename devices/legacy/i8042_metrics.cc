#include "devices/legacy/i8042_metrics.h"

namespace ember {

MetricGroup i8042_metrics(const I8042::Counters& c) {
    return {"i8042",
            {{"reset_count", c.reset_count},
             {"missed_read_count", c.missed_read_count},
             {"missed_write_count", c.missed_write_count}}};
}

}  // namespace ember
