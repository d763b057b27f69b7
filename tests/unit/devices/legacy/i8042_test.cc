#include "devices/legacy/i8042.h"

#include <gtest/gtest.h>

#include "tests/fakes/byte_port.h"
#include "tests/fakes/fake_irq_line.h"

namespace ember {
namespace {

constexpr uint64_t kData = 0;
constexpr uint64_t kCommand = 4;

class I8042Test : public ::testing::Test {
protected:
    uint8_t in(uint64_t offset) { return ::ember::testing::read_byte(dev, offset); }
    void out(uint64_t offset, uint8_t value) { ::ember::testing::write_byte(dev, offset, value); }

    testing::FakeIrqLine irq;
    EventFd reset = EventFd::create().value();
    I8042 dev{irq, reset};
};

TEST_F(I8042Test, ResetCommandSignalsTheResetEvent) {
    EXPECT_FALSE(reset.read().has_value());  // Nothing yet (EAGAIN).
    out(kCommand, 0xfe);
    Result<uint64_t> count = reset.read();
    ASSERT_TRUE(count.has_value());
    EXPECT_EQ(*count, 1u);
    EXPECT_EQ(dev.counters().reset_count, 1u);
}

TEST_F(I8042Test, ResetValueOnTheDataPortDoesNotReset) {
    out(kData, 0xfe);
    EXPECT_FALSE(reset.read().has_value());
}

TEST_F(I8042Test, ReadsTheCommandByte) {
    out(kCommand, 0x20);
    EXPECT_EQ(in(kCommand)&I8042::kStatusOutputFull, I8042::kStatusOutputFull);
    EXPECT_EQ(in(kData), 0x05);  // POST passed, keyboard interrupt enabled.
    EXPECT_EQ(in(kCommand)&I8042::kStatusOutputFull, 0);
}

TEST_F(I8042Test, WritesTheCommandByteThroughTheDataPort) {
    out(kCommand, 0x60);
    EXPECT_EQ(in(kCommand)&I8042::kStatusCommand, I8042::kStatusCommand);
    out(kData, 0x44);
    EXPECT_EQ(dev.command_byte(), 0x44);
    EXPECT_EQ(in(kCommand)&I8042::kStatusCommand, 0);
    out(kCommand, 0x20);
    EXPECT_EQ(in(kData), 0x44);
}

TEST_F(I8042Test, AcknowledgesKeyboardCommandsWithAnInterrupt) {
    out(kData, 0xed);  // Set LEDs.
    EXPECT_EQ(irq.count(), 1u);
    EXPECT_EQ(in(kData), 0xfa);
}

TEST_F(I8042Test, CtrlAltDelQueuesScancodesAndRaisesKeyboardInterrupt) {
    ASSERT_TRUE(dev.send_ctrl_alt_del().has_value());
    EXPECT_EQ(irq.count(), 1u);
    EXPECT_EQ(in(kData), 0x14);
    EXPECT_EQ(irq.count(), 2u);  // One interrupt per byte still waiting.
    EXPECT_EQ(in(kData), 0x11);
    EXPECT_EQ(in(kData), 0xe0);
    EXPECT_EQ(in(kData), 0x71);
    EXPECT_EQ(irq.count(), 4u);
    EXPECT_EQ(in(kCommand)&I8042::kStatusOutputFull, 0);
}

TEST_F(I8042Test, CtrlAltDelWithoutKeyboardInterruptQueuesSilently) {
    out(kCommand, 0x60);
    out(kData, 0x04);
    ASSERT_TRUE(dev.send_ctrl_alt_del().has_value());
    EXPECT_EQ(irq.count(), 0u);
    EXPECT_EQ(in(kData), 0x14);
}

TEST_F(I8042Test, CtrlAltDelFailsWhenTheBufferIsFull) {
    for (size_t i = 0; i < I8042::kBufferSize / 4; ++i) {
        ASSERT_TRUE(dev.send_ctrl_alt_del().has_value());
    }
    EXPECT_FALSE(dev.send_ctrl_alt_del().has_value());
}

TEST_F(I8042Test, EmptyDataReadReturnsZeroAndCounts) {
    EXPECT_EQ(in(kData), 0);
    EXPECT_EQ(dev.counters().missed_read_count, 1u);
}

}  // namespace
}  // namespace ember
