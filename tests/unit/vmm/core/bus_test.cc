#include "vmm/core/bus.h"

#include <gtest/gtest.h>

#include <vector>

namespace ember {
namespace {

// Records accesses and answers reads with its tag.
class TagDevice : public BusDevice {
public:
    explicit TagDevice(uint8_t tag) : tag_(tag) {}
    void read(uint64_t offset, std::span<uint8_t> data) override {
        last_offset = offset;
        for (uint8_t& b : data) b = tag_;
    }
    void write(uint64_t offset, std::span<const uint8_t> data) override {
        last_offset = offset;
        written.assign(data.begin(), data.end());
    }
    uint64_t last_offset = ~0ull;
    std::vector<uint8_t> written;

private:
    uint8_t tag_;
};

TEST(BusTest, RefusesOverlappingRanges) {
    Bus bus;
    TagDevice a(1), b(2);
    ASSERT_TRUE(bus.insert(0x100, 0x10, &a).has_value());
    EXPECT_FALSE(bus.insert(0x100, 0x10, &b).has_value());  // Same range.
    EXPECT_FALSE(bus.insert(0x10f, 0x1, &b).has_value());   // Last byte.
    EXPECT_FALSE(bus.insert(0xf0, 0x11, &b).has_value());   // Ends on the first byte.
    EXPECT_FALSE(bus.insert(0x0, 0x1000, &b).has_value());  // Covers it.
    EXPECT_FALSE(bus.insert(0x108, 0x2, &b).has_value());   // Inside it.
    EXPECT_EQ(bus.size(), 1u);
}

TEST(BusTest, AcceptsAdjacentRanges) {
    Bus bus;
    TagDevice a(1), b(2), c(3);
    ASSERT_TRUE(bus.insert(0x100, 0x10, &a).has_value());
    EXPECT_TRUE(bus.insert(0x110, 0x10, &b).has_value());
    EXPECT_TRUE(bus.insert(0xf0, 0x10, &c).has_value());
    EXPECT_EQ(bus.size(), 3u);
}

TEST(BusTest, RefusesEmptyWrappingAndNullRanges) {
    Bus bus;
    TagDevice a(1);
    EXPECT_FALSE(bus.insert(0x100, 0, &a).has_value());
    EXPECT_FALSE(bus.insert(~0ull - 1, 4, &a).has_value());
    EXPECT_FALSE(bus.insert(0x100, 1, nullptr).has_value());
    EXPECT_TRUE(bus.insert(~0ull, 1, &a).has_value());  // The very last byte is fine.
}

TEST(BusTest, LooksUpFirstAndLastByteButNotBeyond) {
    Bus bus;
    TagDevice a(1);
    ASSERT_TRUE(bus.insert(0x3f8, 8, &a).has_value());
    EXPECT_EQ(bus.lookup(0x3f8).device, &a);
    EXPECT_EQ(bus.lookup(0x3f8).offset, 0u);
    EXPECT_EQ(bus.lookup(0x3ff).device, &a);
    EXPECT_EQ(bus.lookup(0x3ff).offset, 7u);
    EXPECT_EQ(bus.lookup(0x3f7).device, nullptr);
    EXPECT_EQ(bus.lookup(0x400).device, nullptr);
}

TEST(BusTest, DispatchesReadsAndWritesWithTheOffset) {
    Bus bus;
    TagDevice a(0xab);
    ASSERT_TRUE(bus.insert(0x60, 5, &a).has_value());
    uint8_t data[1] = {0};
    EXPECT_TRUE(bus.read(0x64, data));
    EXPECT_EQ(data[0], 0xab);
    EXPECT_EQ(a.last_offset, 4u);
    uint8_t value[1] = {0xfe};
    EXPECT_TRUE(bus.write(0x64, value));
    EXPECT_EQ(a.written, std::vector<uint8_t>{0xfe});
}

TEST(BusTest, RefusesAccessesThatCrossTheWindowEnd) {
    Bus bus;
    TagDevice a(1);
    ASSERT_TRUE(bus.insert(0x1000, 0x10, &a).has_value());
    uint8_t four[4] = {};
    EXPECT_TRUE(bus.read(0x100c, four));
    EXPECT_FALSE(bus.read(0x100d, four));
    EXPECT_FALSE(bus.write(0x100e, four));
    EXPECT_FALSE(bus.read(0x2000, four));
}

}  // namespace
}  // namespace ember
