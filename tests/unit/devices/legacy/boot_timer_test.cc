#include "devices/legacy/boot_timer.h"

#include <gtest/gtest.h>

#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>

#include "vmm/base/log.h"

namespace ember {
namespace {

void put(BootTimer& timer, uint64_t offset, uint8_t value) { timer.write(offset, {&value, 1}); }

BootTimer::StartTime one_second_ago() {
    BootTimer::StartTime start = BootTimer::StartTime::now();
    start.wall -= std::chrono::seconds(1);
    return start;
}

TEST(BootTimerTest, MagicByteAtOffsetZeroReportsElapsedTime) {
    BootTimer timer(one_second_ago());
    put(timer, 0, 123);
    ASSERT_TRUE(timer.boot_time().has_value());
    EXPECT_GE(timer.boot_time()->wall_us, 1000000u);
    EXPECT_LT(timer.boot_time()->wall_us, 60000000u);
}

TEST(BootTimerTest, MeasuresFromTheJailersMonotonicStartTime) {
    timespec ts{};
    ASSERT_EQ(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
    const uint64_t now_us =
        static_cast<uint64_t>(ts.tv_sec) * 1000000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
    const uint64_t cpu_before = process_cpu_time_us();
    // Started 2 s ago by the clock --start-time-us uses; CPU counted from 0 (the whole process).
    BootTimer timer(BootTimer::StartTime::from_us(now_us - 2000000, 0));
    put(timer, 0, 123);
    ASSERT_TRUE(timer.boot_time().has_value());
    EXPECT_GE(timer.boot_time()->wall_us, 2000000u);
    EXPECT_LT(timer.boot_time()->wall_us, 3000000u);
    EXPECT_GE(timer.boot_time()->cpu_us, cpu_before);
}

TEST(BootTimerTest, OtherValuesOffsetsAndWidthsAreIgnored) {
    BootTimer timer(one_second_ago());
    put(timer, 0, 122);
    put(timer, 1, 123);
    uint8_t wide[2] = {123, 0};
    timer.write(0, wide);
    EXPECT_FALSE(timer.boot_time().has_value());
}

TEST(BootTimerTest, ReportsOnlyTheFirstSignal) {
    BootTimer timer(one_second_ago());
    put(timer, 0, 123);
    BootTimer::BootTime first = *timer.boot_time();
    put(timer, 0, 123);
    EXPECT_EQ(timer.boot_time()->wall_us, first.wall_us);
    EXPECT_EQ(timer.boot_time()->cpu_us, first.cpu_us);
}

TEST(BootTimerTest, ReadsAsZero) {
    BootTimer timer(BootTimer::StartTime::now());
    uint8_t data[4] = {1, 2, 3, 4};
    timer.read(0, data);
    for (uint8_t b : data) EXPECT_EQ(b, 0);
}

}  // namespace
}  // namespace ember

namespace ember {
namespace {

TEST(BootTimerTest, LogsTheBootTimeLineOnceInFirecrackersFormat) {
    char path[] = "/tmp/ember-boot-timer-test-XXXXXX";
    int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ::close(fd);
    ASSERT_TRUE(log::configure(log::Options{.level = log::Level::kInfo}, path).has_value());
    BootTimer timer(BootTimer::StartTime::now());
    put(timer, 0, 123);
    put(timer, 0, 123);
    ASSERT_TRUE(log::configure(log::Options{.level = log::Level::kInfo}, "/dev/null").has_value());
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ::unlink(path);
    std::regex line(R"(Guest-boot-time = +\d+ us \d+ ms, +\d+ CPU us \d+ CPU ms)");
    auto begin = std::sregex_iterator(text.begin(), text.end(), line);
    EXPECT_EQ(std::distance(begin, std::sregex_iterator()), 1) << text;
}

}  // namespace
}  // namespace ember
