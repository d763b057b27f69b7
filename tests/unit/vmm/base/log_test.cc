// The time stamp of a log line: UTC from calendar arithmetic, no time-zone lookup (which would
// open a file from threads whose seccomp filter forbids it).
#include <gtest/gtest.h>

#include "vmm/base/log.h"

namespace ember {
namespace {

TEST(LogUtcStamp, IsTheUtcCalendarTimeOfTheSecond) {
    EXPECT_EQ(log::utc_stamp(0), "1970-01-01T00:00:00");
    EXPECT_EQ(log::utc_stamp(951782400), "2000-02-29T00:00:00");  // A leap day.
    EXPECT_EQ(log::utc_stamp(1796613775), "2026-12-07T03:22:55");
    EXPECT_EQ(log::utc_stamp(4102444799), "2099-12-31T23:59:59");
    EXPECT_EQ(log::utc_stamp(-1), "1969-12-31T23:59:59");
}

TEST(LogSourcePath, IsRelativeToTheSourceTreeAsFirecrackersOrigin) {
    EXPECT_EQ(log::source_path(__FILE__), "tests/unit/vmm/base/log_test.cc");
    EXPECT_EQ(log::source_path("elsewhere/x.cc"), "elsewhere/x.cc");
    EXPECT_EQ(log::source_path("../../vmm/main.cc"), "vmm/main.cc");
}

}  // namespace
}  // namespace ember
