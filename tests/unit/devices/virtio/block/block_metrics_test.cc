// The block_<id> metrics group: Firecracker's field names in its order, each from its counter.
#include "devices/virtio/block/block_metrics.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string_view>
#include <utility>

namespace ember::virtio {
namespace {

TEST(BlockMetrics, NamesTheGroupAfterTheDriveAndKeepsFirecrackersFieldsInOrder) {
    // Firecracker's fields in its order, each with the counter it reports.
    const std::pair<std::string_view, uint64_t BlockCounters::*> expected[] = {
        {"activate_fails", &BlockCounters::activate_fails},
        {"cfg_fails", &BlockCounters::cfg_fails},
        {"event_fails", &BlockCounters::event_fails},
        {"execute_fails", &BlockCounters::execute_fails},
        {"flush_count", &BlockCounters::flush_count},
        {"invalid_reqs_count", &BlockCounters::invalid_reqs_count},
        {"no_avail_buffer", &BlockCounters::no_avail_buffer},
        {"queue_event_count", &BlockCounters::queue_event_count},
        {"rate_limiter_event_count", &BlockCounters::rate_limiter_event_count},
        {"rate_limiter_throttled_events", &BlockCounters::rate_limiter_throttled_events},
        {"io_engine_throttled_events", &BlockCounters::io_engine_throttled_events},
        {"read_bytes", &BlockCounters::read_bytes},
        {"read_count", &BlockCounters::read_count},
        {"write_bytes", &BlockCounters::write_bytes},
        {"write_count", &BlockCounters::write_count},
        {"update_count", &BlockCounters::update_count},
        {"update_fails", &BlockCounters::update_fails},
    };
    BlockCounters c;
    // Every counter a distinct value, so that a field read from the wrong counter shows.
    for (size_t i = 0; i < std::size(expected); ++i) c.*expected[i].second = 100 + i;

    MetricGroup g = block_metrics("rootfs", c);
    EXPECT_EQ(g.name, "block_rootfs");
    ASSERT_EQ(g.metrics.size(), std::size(expected));
    for (size_t i = 0; i < std::size(expected); ++i) {
        EXPECT_EQ(g.metrics[i].name, expected[i].first) << i;
        EXPECT_EQ(g.metrics[i].value, 100 + i) << expected[i].first;
        EXPECT_EQ(g.metrics[i].kind, MetricKind::kCounter) << expected[i].first;
    }
}

}  // namespace
}  // namespace ember::virtio
