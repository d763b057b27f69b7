#include "devices/virtio/net/net_metrics.h"

#include <string>

namespace ember::virtio {

MetricGroup net_metrics(std::string_view iface_id, const NetCounters& c) {
    return {"net_" + std::string(iface_id),
            {
                {"activate_fails", c.activate_fails},
                {"cfg_fails", c.cfg_fails},
                {"mac_address_updates", c.mac_address_updates},
                {"no_rx_avail_buffer", c.no_rx_avail_buffer},
                {"no_tx_avail_buffer", c.no_tx_avail_buffer},
                {"event_fails", c.event_fails},
                {"rx_queue_event_count", c.rx_queue_event_count},
                {"rx_event_rate_limiter_count", c.rx_event_rate_limiter_count},
                {"rx_tap_event_count", c.rx_tap_event_count},
                {"rx_bytes_count", c.rx_bytes_count},
                {"rx_packets_count", c.rx_packets_count},
                {"rx_fails", c.rx_fails},
                {"rx_count", c.rx_count},
                {"rx_rate_limiter_throttled", c.rx_rate_limiter_throttled},
                {"tx_bytes_count", c.tx_bytes_count},
                {"tx_malformed_frames", c.tx_malformed_frames},
                {"tx_fails", c.tx_fails},
                {"tx_count", c.tx_count},
                {"tx_packets_count", c.tx_packets_count},
                {"tx_queue_event_count", c.tx_queue_event_count},
                {"tx_rate_limiter_event_count", c.tx_rate_limiter_event_count},
                {"tx_rate_limiter_throttled", c.tx_rate_limiter_throttled},
            }};
}

MetricGroup mmds_metrics(const mmds_net::MmdsCounters& sum) { return metric_group("mmds", sum); }

}  // namespace ember::virtio
