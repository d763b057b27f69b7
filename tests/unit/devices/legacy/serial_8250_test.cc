#include "devices/legacy/serial_8250.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/fakes/byte_port.h"
#include "tests/fakes/fake_irq_line.h"

namespace ember {
namespace {

constexpr uint64_t kData = 0, kIer = 1, kIir = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6, kScr = 7;

class BufferOutput : public SerialOutput {
public:
    bool write(std::span<const uint8_t> bytes) override {
        if (fail) return false;
        text.append(bytes.begin(), bytes.end());
        return true;
    }
    std::string text;
    bool fail = false;
};

class Serial8250Test : public ::testing::Test {
protected:
    uint8_t in(uint64_t offset) { return ::ember::testing::read_byte(serial, offset); }
    void out(uint64_t offset, uint8_t value) {
        ::ember::testing::write_byte(serial, offset, value);
    }
    void feed(const std::string& s) {
        serial.enqueue_input({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
    }

    testing::FakeIrqLine irq;
    BufferOutput output;
    Serial8250 serial{irq, output};
};

TEST_F(Serial8250Test, WritesTransmittedBytesToTheOutput) {
    for (char c : std::string("hi\n")) out(kData, static_cast<uint8_t>(c));
    EXPECT_EQ(output.text, "hi\n");
    EXPECT_EQ(serial.counters().bytes_out, 3u);
}

TEST_F(Serial8250Test, CountsBytesTheOutputRefuses) {
    output.fail = true;
    out(kData, 'x');
    EXPECT_EQ(serial.counters().missed_write, 1u);
}

TEST_F(Serial8250Test, ReportsTransmitterEmptyAndDataReadyInLineStatus) {
    EXPECT_EQ(in(kLsr), 0x60);
    feed("a");
    EXPECT_EQ(in(kLsr), 0x61);
    EXPECT_EQ(in(kData), 'a');
    EXPECT_EQ(in(kLsr), 0x60);
}

TEST_F(Serial8250Test, DivisorLatchIsReachedOnlyWithDlab) {
    out(kIer, 0x01);
    out(kLcr, 0x80);
    EXPECT_EQ(in(kData), 0x0c);  // Default divisor: 9600 baud.
    EXPECT_EQ(in(kIer), 0x00);
    out(kData, 0x01);
    out(kIer, 0x02);
    EXPECT_EQ(in(kData), 0x01);
    EXPECT_EQ(in(kIer), 0x02);
    EXPECT_TRUE(output.text.empty());  // DLL writes are not transmitted.
    out(kLcr, 0x03);
    EXPECT_EQ(in(kIer), 0x01);  // IER kept its value behind the latch.
    EXPECT_EQ(in(kLcr), 0x03);
}

TEST_F(Serial8250Test, ScratchRegisterKeepsItsValue) {
    out(kScr, 0x5a);
    EXPECT_EQ(in(kScr), 0x5a);
}

TEST_F(Serial8250Test, EnablingTransmitInterruptRaisesItAtOnce) {
    out(kIer, 0x02);
    EXPECT_EQ(irq.count(), 1u);
    EXPECT_EQ(in(kIir), 0xc2);
    // Reading IIR acknowledged it.
    EXPECT_EQ(in(kIir), 0xc1);
}

TEST_F(Serial8250Test, TransmitRaisesInterruptOnlyWhenEnabled) {
    out(kData, 'a');
    EXPECT_EQ(irq.count(), 0u);
    EXPECT_EQ(in(kIir), 0xc1);
    out(kIer, 0x02);
    (void)in(kIir);
    uint64_t before = irq.count();
    out(kData, 'b');
    EXPECT_EQ(irq.count(), before + 1);
    EXPECT_EQ(in(kIir), 0xc2);
}

TEST_F(Serial8250Test, ReceivedDataRaisesInterruptUntilDrained) {
    out(kIer, 0x01);
    EXPECT_EQ(irq.count(), 0u);
    feed("xy");
    EXPECT_EQ(irq.count(), 1u);
    EXPECT_EQ(in(kIir), 0xc4);
    EXPECT_EQ(in(kData), 'x');
    EXPECT_EQ(in(kIir), 0xc4);
    EXPECT_EQ(in(kData), 'y');
    EXPECT_EQ(in(kIir), 0xc1);
}

TEST_F(Serial8250Test, ReceivedDataOutranksTransmitterEmpty) {
    out(kIer, 0x03);
    feed("z");
    EXPECT_EQ(in(kIir), 0xc4);
    (void)in(kData);
    EXPECT_EQ(in(kIir), 0xc2);
}

TEST_F(Serial8250Test, EnablingReceiveInterruptWithPendingDataRaisesIt) {
    feed("q");
    EXPECT_EQ(irq.count(), 0u);
    out(kIer, 0x01);
    EXPECT_EQ(irq.count(), 1u);
}

TEST_F(Serial8250Test, ReceiveFifoIsBounded) {
    std::string big(Serial8250::kFifoSize + 10, 'k');
    size_t taken = serial.enqueue_input({reinterpret_cast<const uint8_t*>(big.data()), big.size()});
    EXPECT_EQ(taken, Serial8250::kFifoSize);
    EXPECT_EQ(serial.input_space(), 0u);
    EXPECT_EQ(serial.counters().dropped_in, 10u);
    for (size_t i = 0; i < Serial8250::kFifoSize; ++i) EXPECT_EQ(in(kData), 'k');
    EXPECT_EQ(in(kLsr)&0x01, 0);
    EXPECT_EQ(in(kData), 0);  // An empty receiver reads as zero.
}

TEST_F(Serial8250Test, FifoControlClearsTheReceiver) {
    feed("abc");
    out(kIir, 0x02);
    EXPECT_EQ(in(kLsr)&0x01, 0);
}

TEST_F(Serial8250Test, LoopbackSendsTransmittedBytesBackToTheReceiver) {
    out(kIer, 0x01);
    out(kMcr, 0x10);
    out(kData, 'L');
    EXPECT_TRUE(output.text.empty());
    EXPECT_EQ(irq.count(), 1u);
    EXPECT_EQ(in(kLsr)&0x01, 0x01);
    EXPECT_EQ(in(kData), 'L');
}

TEST_F(Serial8250Test, LoopbackMirrorsModemControlIntoModemStatus) {
    EXPECT_EQ(in(kMsr), 0xb0);  // DCD, DSR, CTS: a terminal is attached.
    out(kMcr, 0x10 | 0x01 | 0x02);
    EXPECT_EQ(in(kMsr), 0x30);
    out(kMcr, 0x10 | 0x04 | 0x08);
    EXPECT_EQ(in(kMsr), 0xc0);
}

TEST_F(Serial8250Test, WideAccessesReadAllOnesAndAreIgnored) {
    uint8_t wide[2] = {0, 0};
    serial.read(kData, wide);
    EXPECT_EQ(wide[0], 0xff);
    EXPECT_EQ(wide[1], 0xff);
    uint8_t w[2] = {'a', 'b'};
    serial.write(kData, w);
    EXPECT_TRUE(output.text.empty());
}

}  // namespace
}  // namespace ember
