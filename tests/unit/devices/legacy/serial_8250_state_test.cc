// Serial8250 save_state/restore_state: a restored UART reads back exactly like the original.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "devices/legacy/serial_8250.h"
#include "tests/fakes/byte_port.h"
#include "tests/fakes/fake_irq_line.h"

namespace ember {
namespace {

constexpr uint64_t kData = 0, kIer = 1, kIir = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6, kScr = 7;

class NullOutput : public SerialOutput {
public:
    bool write(std::span<const uint8_t> bytes) override {
        text.append(bytes.begin(), bytes.end());
        return true;
    }
    std::string text;
};

// A UART with its own IRQ line and output, driven through its ports.
struct Uart {
    uint8_t in(uint64_t offset) { return ::ember::testing::read_byte(dev, offset); }
    void out(uint64_t offset, uint8_t value) { ::ember::testing::write_byte(dev, offset, value); }
    void feed(const std::string& s) {
        dev.enqueue_input({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
    }

    testing::FakeIrqLine irq;
    NullOutput output;
    Serial8250 dev{irq, output};
};

// Every register read, in an order that also consumes the FIFO and acknowledges THRE, then the
// divisor latch; reads have side effects, so both devices must go through the same sequence.
std::vector<uint8_t> read_everything(Uart& u) {
    std::vector<uint8_t> r;
    for (uint64_t reg : {kIer, kLcr, kMcr, kLsr, kMsr, kScr}) r.push_back(u.in(reg));
    for (int i = 0; i < 3; ++i) {
        r.push_back(u.in(kIir));
        r.push_back(u.in(kLsr));
        r.push_back(u.in(kData));
    }
    r.push_back(u.in(kIir));
    r.push_back(u.in(kIir));
    const uint8_t lcr = u.in(kLcr);
    u.out(kLcr, lcr | 0x80);
    r.push_back(u.in(kData));  // DLL
    r.push_back(u.in(kIer));   // DLM
    u.out(kLcr, lcr);
    return r;
}

// Divisor 0x0201, 7E1, DTR+RTS+OUT2, both interrupts enabled, "bc" in the FIFO, THRE pending.
void make_busy(Uart& u) {
    u.out(kLcr, 0x80);
    u.out(kData, 0x01);
    u.out(kIer, 0x02);
    u.out(kLcr, 0x1a);
    u.out(kMcr, 0x0b);
    u.out(kScr, 0x5a);
    u.feed("abc");
    EXPECT_EQ(u.in(kData), 'a');
    u.out(kIer, 0x03);
}

TEST(Serial8250State, RestoredDeviceReadsLikeTheOriginal) {
    Uart original;
    make_busy(original);
    const Serial8250::State state = original.dev.save_state();
    EXPECT_EQ(state.rx_len, 2);
    EXPECT_EQ(state.thr_empty_pending, 1);

    Uart restored;
    ASSERT_TRUE(restored.dev.restore_state(state).has_value());
    EXPECT_EQ(restored.dev.save_state(), state);
    // The pending interrupt is raised again on the new line.
    EXPECT_EQ(restored.irq.count(), 1u);

    const std::vector<uint8_t> expected = read_everything(original);
    EXPECT_EQ(read_everything(restored), expected);
    // Spot-check the sequence itself, so that two equally wrong devices cannot pass.
    const std::vector<uint8_t> want = {0x03, 0x1a, 0x0b, 0x61, 0xb0, 0x5a, 0xc4, 0x61, 'b', 0xc4,
                                       0x61, 'c',  0xc2, 0x60, 0x00, 0xc1, 0xc1, 0x01, 0x02};
    EXPECT_EQ(expected, want);
}

TEST(Serial8250State, FullFifoAndLoopbackSurvive) {
    Uart original;
    original.out(kMcr, 0x1f);  // Loopback with every modem output set.
    std::string fill;
    for (size_t i = 0; i < Serial8250::kFifoSize; ++i)
        fill.push_back(static_cast<char>('A' + i % 26));
    original.feed(fill);
    Uart restored;
    ASSERT_TRUE(restored.dev.restore_state(original.dev.save_state()).has_value());
    EXPECT_EQ(restored.irq.count(), 0u);  // No interrupt enabled, none raised.
    EXPECT_EQ(restored.dev.input_space(), 0u);
    EXPECT_EQ(restored.in(kMsr), 0xf0);
    std::string back;
    for (size_t i = 0; i < Serial8250::kFifoSize; ++i)
        back.push_back(static_cast<char>(restored.in(kData)));
    EXPECT_EQ(back, fill);
    EXPECT_EQ(restored.in(kLsr), 0x60);
    // Loopback still routes transmitted bytes into the receiver, not to the output.
    restored.out(kData, 'z');
    EXPECT_EQ(restored.in(kData), 'z');
    EXPECT_TRUE(restored.output.text.empty());
}

TEST(Serial8250State, RefusesInvalidStatesAndStaysUnchanged) {
    Uart u;
    make_busy(u);
    const uint64_t irqs = u.irq.count();
    const Serial8250::State good = u.dev.save_state();
    std::vector<Serial8250::State> bad(4, good);
    bad[0].rx_len = Serial8250::kFifoSize + 1;
    bad[1].ier = 0x10;
    bad[2].mcr = 0x20;
    bad[3].thr_empty_pending = 2;
    for (const Serial8250::State& s : bad) {
        Result<void> r = u.dev.restore_state(s);
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().code(), std::errc::invalid_argument);
        EXPECT_NE(r.error().message().find("serial restore"), std::string::npos);
    }
    EXPECT_EQ(u.dev.save_state(), good);
    EXPECT_EQ(u.irq.count(), irqs);
}

}  // namespace
}  // namespace ember
