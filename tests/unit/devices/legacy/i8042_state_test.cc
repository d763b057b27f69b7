// I8042 save_state/restore_state: a restored controller reads back exactly like the original.
#include <gtest/gtest.h>

#include <vector>

#include "devices/legacy/i8042.h"
#include "tests/fakes/byte_port.h"
#include "tests/fakes/fake_irq_line.h"

namespace ember {
namespace {

constexpr uint64_t kData = 0;
constexpr uint64_t kCommand = 4;

struct Controller {
    uint8_t in(uint64_t offset) { return ::ember::testing::read_byte(dev, offset); }
    void out(uint64_t offset, uint8_t value) { ::ember::testing::write_byte(dev, offset, value); }

    testing::FakeIrqLine irq;
    EventFd reset = EventFd::create().value();
    I8042 dev{irq, reset};
};

// Command byte 0x47, output port 0x03, three scancodes left to read, and a "write command byte"
// command waiting for its data byte.
void make_busy(Controller& c) {
    c.out(kCommand, I8042::kCmdWriteCommandByte);
    c.out(kData, 0x47);
    c.out(kCommand, I8042::kCmdWriteOutputPort);
    c.out(kData, 0x03);
    ASSERT_TRUE(c.dev.send_ctrl_alt_del().has_value());
    EXPECT_EQ(c.in(kData), 0x14);
    c.out(kCommand, I8042::kCmdWriteCommandByte);
}

// Reads status and the rest of the buffer, completes the pending command, reads the output port.
std::vector<uint8_t> read_everything(Controller& c) {
    std::vector<uint8_t> r;
    for (int i = 0; i < 3; ++i) {
        r.push_back(c.in(kCommand));
        r.push_back(c.in(kData));
    }
    r.push_back(c.in(kCommand));
    c.out(kData, 0x65);  // The data byte for the pending command.
    r.push_back(c.dev.command_byte());
    c.out(kCommand, I8042::kCmdReadOutputPort);
    r.push_back(c.in(kData));
    r.push_back(c.in(kCommand));
    return r;
}

TEST(I8042State, RestoredDeviceReadsLikeTheOriginal) {
    Controller original;
    make_busy(original);
    const I8042::State state = original.dev.save_state();
    EXPECT_EQ(state.buffer_len, 3);
    EXPECT_EQ(state.pending_command, I8042::kCmdWriteCommandByte);

    Controller restored;
    ASSERT_TRUE(restored.dev.restore_state(state).has_value());
    EXPECT_EQ(restored.dev.save_state(), state);
    EXPECT_EQ(restored.dev.command_byte(), 0x47);
    EXPECT_EQ(restored.irq.count(), 1u);  // Output is waiting: IRQ1 raised again.

    const std::vector<uint8_t> expected = read_everything(original);
    EXPECT_EQ(read_everything(restored), expected);
    const std::vector<uint8_t> want = {0x19, 0x11, 0x19, 0xe0, 0x19, 0x71, 0x18, 0x65, 0x03, 0x18};
    EXPECT_EQ(expected, want);
}

TEST(I8042State, NoInterruptWhenTheCommandByteMasksIt) {
    Controller original;
    original.out(kCommand, I8042::kCmdWriteCommandByte);
    original.out(kData, 0x44);  // Keyboard interrupt off.
    ASSERT_TRUE(original.dev.send_ctrl_alt_del().has_value());
    Controller restored;
    ASSERT_TRUE(restored.dev.restore_state(original.dev.save_state()).has_value());
    EXPECT_EQ(restored.irq.count(), 0u);
    EXPECT_EQ(restored.in(kData), 0x14);
}

TEST(I8042State, RefusesInvalidStatesAndStaysUnchanged) {
    Controller c;
    make_busy(c);
    const uint64_t irqs = c.irq.count();
    const I8042::State good = c.dev.save_state();
    std::vector<I8042::State> bad(5, good);
    bad[0].buffer_len = I8042::kBufferSize + 1;
    bad[1].status |= 0x80;
    bad[2].buffer_len = 0;                                             // OBF still set.
    bad[3].status &= static_cast<uint8_t>(~I8042::kStatusOutputFull);  // Bytes but no OBF.
    bad[4].pending_command = 0x42;
    for (const I8042::State& s : bad) {
        Result<void> r = c.dev.restore_state(s);
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().code(), std::errc::invalid_argument);
    }
    EXPECT_EQ(c.dev.save_state(), good);
    EXPECT_EQ(c.irq.count(), irqs);
}

}  // namespace
}  // namespace ember
