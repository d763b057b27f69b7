#include "vmm/base/metrics_writer.h"

#include <unistd.h>

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace ember {
namespace {

struct FakeUartCounters {
    uint64_t read_count = 0;
    uint64_t write_count = 0;
    uint64_t fifo_depth = 0;
    template <typename F>
    void visit(F&& f) const {
        f("read_count", read_count);
        f("write_count", write_count);
        f("fifo_depth", fifo_depth, MetricKind::kGauge);
    }
};

TEST(MetricsWriter, EmitsEveryStandardGroupEvenWhenEmpty) {
    MetricsWriter writer;
    std::string line = writer.render_line({}, 42);
    EXPECT_EQ(line.rfind("{\"utc_timestamp_ms\":42,", 0), 0u);
    for (std::string_view g : {"api_server", "vcpu", "vmm", "uart", "i8042", "latencies_us",
                               "logger", "seccomp", "signals", "block", "net"}) {
        EXPECT_NE(line.find(fmt::format("\"{}\":{{", g)), std::string::npos) << g;
    }
    EXPECT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1);
}

TEST(MetricsWriter, WritesCountersAsChangesSinceTheLastFlushAndGaugesAsTheyAre) {
    MetricsWriter writer;
    FakeUartCounters uart{.read_count = 5, .write_count = 7, .fifo_depth = 3};
    std::vector<MetricGroup> groups{metric_group("uart", uart)};
    EXPECT_NE(writer.render_line(groups, 1).find(
                  "\"uart\":{\"read_count\":5,\"write_count\":7,\"fifo_depth\":3}"),
              std::string::npos);
    uart.read_count = 8;
    groups = {metric_group("uart", uart)};
    EXPECT_NE(writer.render_line(groups, 2).find(
                  "\"uart\":{\"read_count\":3,\"write_count\":0,\"fifo_depth\":3}"),
              std::string::npos);
}

TEST(MetricsWriter, AddsPerDeviceGroupsAfterTheStandardOnes) {
    MetricsWriter writer;
    std::vector<MetricGroup> groups{{"block_rootfs", {{"read_count", 2}}}};
    std::string line = writer.render_line(groups, 1);
    size_t at = line.find("\"block_rootfs\":{\"read_count\":2}");
    ASSERT_NE(at, std::string::npos);
    EXPECT_GT(at, line.find("\"vsock\":{}"));
}

TEST(MetricsWriter, AppendsOneLinePerFlushToItsFile) {
    char path[] = "/tmp/ember-metrics-XXXXXX";
    int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ::close(fd);
    auto writer = MetricsWriter::open(path);
    ASSERT_TRUE(writer) << writer.error().message();
    ASSERT_TRUE(writer->flush({}, 1));
    ASSERT_TRUE(writer->flush({}, 2));
    std::ifstream in(path);
    std::string first, second, third;
    std::getline(in, first);
    std::getline(in, second);
    EXPECT_FALSE(std::getline(in, third));
    EXPECT_EQ(first.rfind("{\"utc_timestamp_ms\":1,", 0), 0u);
    EXPECT_EQ(second.rfind("{\"utc_timestamp_ms\":2,", 0), 0u);
    ::unlink(path);
}

TEST(MetricsWriter, FailsToOpenAPathInAMissingDirectory) {
    EXPECT_FALSE(MetricsWriter::open("/nonexistent-dir/metrics"));
}

}  // namespace
}  // namespace ember
