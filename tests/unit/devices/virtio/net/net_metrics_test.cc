// The net_<id> metrics group: Firecracker's field names in its order, each from its counter.
#include "devices/virtio/net/net_metrics.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string_view>
#include <utility>

namespace ember::virtio {
namespace {

TEST(NetMetrics, NamesTheGroupAfterTheInterfaceAndKeepsFirecrackersFieldsInOrder) {
    // Firecracker's fields in its order, each with the counter it reports.
    const std::pair<std::string_view, uint64_t NetCounters::*> expected[] = {
        {"activate_fails", &NetCounters::activate_fails},
        {"cfg_fails", &NetCounters::cfg_fails},
        {"mac_address_updates", &NetCounters::mac_address_updates},
        {"no_rx_avail_buffer", &NetCounters::no_rx_avail_buffer},
        {"no_tx_avail_buffer", &NetCounters::no_tx_avail_buffer},
        {"event_fails", &NetCounters::event_fails},
        {"rx_queue_event_count", &NetCounters::rx_queue_event_count},
        {"rx_event_rate_limiter_count", &NetCounters::rx_event_rate_limiter_count},
        {"rx_tap_event_count", &NetCounters::rx_tap_event_count},
        {"rx_bytes_count", &NetCounters::rx_bytes_count},
        {"rx_packets_count", &NetCounters::rx_packets_count},
        {"rx_fails", &NetCounters::rx_fails},
        {"rx_count", &NetCounters::rx_count},
        {"rx_rate_limiter_throttled", &NetCounters::rx_rate_limiter_throttled},
        {"tx_bytes_count", &NetCounters::tx_bytes_count},
        {"tx_malformed_frames", &NetCounters::tx_malformed_frames},
        {"tx_fails", &NetCounters::tx_fails},
        {"tx_count", &NetCounters::tx_count},
        {"tx_packets_count", &NetCounters::tx_packets_count},
        {"tx_queue_event_count", &NetCounters::tx_queue_event_count},
        {"tx_rate_limiter_event_count", &NetCounters::tx_rate_limiter_event_count},
        {"tx_rate_limiter_throttled", &NetCounters::tx_rate_limiter_throttled},
    };
    NetCounters c;
    // Every counter a distinct value, so that a field read from the wrong counter shows.
    for (size_t i = 0; i < std::size(expected); ++i) c.*expected[i].second = 200 + i;

    MetricGroup g = net_metrics("eth0", c);
    EXPECT_EQ(g.name, "net_eth0");
    ASSERT_EQ(g.metrics.size(), std::size(expected));
    for (size_t i = 0; i < std::size(expected); ++i) {
        EXPECT_EQ(g.metrics[i].name, expected[i].first) << i;
        EXPECT_EQ(g.metrics[i].value, 200 + i) << expected[i].first;
        EXPECT_EQ(g.metrics[i].kind, MetricKind::kCounter) << expected[i].first;
    }
}

}  // namespace
}  // namespace ember::virtio
