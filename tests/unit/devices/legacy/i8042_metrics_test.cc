// The i8042 metrics group: Firecracker's field names in its order, each from its counter.
#include "devices/legacy/i8042_metrics.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ember {
namespace {

TEST(I8042Metrics, IsFirecrackersI8042GroupInOrder) {
    I8042::Counters c{.reset_count = 21, .missed_read_count = 22, .missed_write_count = 23};
    MetricGroup g = i8042_metrics(c);
    EXPECT_EQ(g.name, "i8042");
    const std::vector<std::string> names = {"reset_count", "missed_read_count",
                                            "missed_write_count"};
    ASSERT_EQ(g.metrics.size(), names.size());
    for (size_t i = 0; i < names.size(); ++i) {
        EXPECT_EQ(g.metrics[i].name, names[i]) << i;
        EXPECT_EQ(g.metrics[i].value, 21 + i) << names[i];
        EXPECT_EQ(g.metrics[i].kind, MetricKind::kCounter) << names[i];
    }
}

}  // namespace
}  // namespace ember
