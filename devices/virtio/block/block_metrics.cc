#include "devices/virtio/block/block_metrics.h"

#include <string>

namespace ember::virtio {

MetricGroup block_metrics(std::string_view drive_id, const BlockCounters& c) {
    return {"block_" + std::string(drive_id),
            {
                {"activate_fails", c.activate_fails},
                {"cfg_fails", c.cfg_fails},
                {"event_fails", c.event_fails},
                {"execute_fails", c.execute_fails},
                {"flush_count", c.flush_count},
                {"invalid_reqs_count", c.invalid_reqs_count},
                {"no_avail_buffer", c.no_avail_buffer},
                {"queue_event_count", c.queue_event_count},
                {"rate_limiter_event_count", c.rate_limiter_event_count},
                {"rate_limiter_throttled_events", c.rate_limiter_throttled_events},
                {"io_engine_throttled_events", c.io_engine_throttled_events},
                {"read_bytes", c.read_bytes},
                {"read_count", c.read_count},
                {"write_bytes", c.write_bytes},
                {"write_count", c.write_count},
                {"update_count", c.update_count},
                {"update_fails", c.update_fails},
            }};
}

}  // namespace ember::virtio
