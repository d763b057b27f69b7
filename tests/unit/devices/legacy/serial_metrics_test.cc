// The uart metrics group: Firecracker's field names in its order, each from its counter.
#include "devices/legacy/serial_metrics.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ember {
namespace {

TEST(SerialMetrics, IsFirecrackersUartGroupInOrder) {
    Serial8250::Counters c{.bytes_out = 11, .bytes_in = 12, .missed_write = 13, .dropped_in = 14};
    MetricGroup g = serial_metrics(c);
    EXPECT_EQ(g.name, "uart");
    const std::vector<std::string> names = {"write_count", "read_count", "missed_write_count",
                                            "missed_read_count"};
    ASSERT_EQ(g.metrics.size(), names.size());
    for (size_t i = 0; i < names.size(); ++i) {
        EXPECT_EQ(g.metrics[i].name, names[i]) << i;
        EXPECT_EQ(g.metrics[i].value, 11 + i) << names[i];
        EXPECT_EQ(g.metrics[i].kind, MetricKind::kCounter) << names[i];
    }
}

}  // namespace
}  // namespace ember
