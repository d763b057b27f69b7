// SerialConsole: host input reaches COM1's receive FIFO, what does not fit is dropped, and end of
// file stops the watch.
#include "devices/legacy/serial_console.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "tests/fakes/byte_port.h"
#include "tests/fakes/fake_irq_line.h"

namespace ember {
namespace {

constexpr uint64_t kData = 0;
constexpr uint64_t kIer = 1;

class NullOutput : public SerialOutput {
public:
    bool write(std::span<const uint8_t>) override { return true; }
};

class SerialConsoleTest : public ::testing::Test {
protected:
    void SetUp() override {
        int fds[2];
        ASSERT_EQ(::pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
        reader_ = UniqueFd(fds[0]);
        writer_ = UniqueFd(fds[1]);
    }
    void type(const std::string& s) {
        ASSERT_EQ(::write(writer_.get(), s.data(), s.size()), static_cast<ssize_t>(s.size()));
    }
    std::string received() {
        std::string out;
        std::lock_guard lock(serial_.mutex());
        while (serial_.input_space() < Serial8250::kFifoSize) {
            out += static_cast<char>(testing::read_byte(serial_, kData));
        }
        return out;
    }

    testing::FakeIrqLine irq_;
    NullOutput output_;
    Serial8250 serial_{irq_, output_};
    UniqueFd reader_;
    UniqueFd writer_;
};

TEST_F(SerialConsoleTest, DeclaresItsInputAsTheOnlyEventSource) {
    const int fd = reader_.get();
    SerialConsole console(serial_, std::move(reader_));
    std::vector<EventSource> sources = console.event_sources();
    ASSERT_EQ(sources.size(), 1u);
    EXPECT_EQ(sources[0].fd, fd);
    EXPECT_EQ(sources[0].events, static_cast<uint32_t>(EPOLLIN));
    EXPECT_TRUE(SerialConsole(serial_, UniqueFd()).event_sources().empty());
}

TEST_F(SerialConsoleTest, FeedsTypedBytesToTheGuestAndRaisesItsInterrupt) {
    testing::write_byte(serial_, kIer, 0x01);  // Received-data interrupt on.
    SerialConsole console(serial_, std::move(reader_));
    type("ls\n");
    EXPECT_EQ(console.event_sources()[0].handler(), EventSource::Next::kKeepWatching);
    EXPECT_EQ(irq_.count(), 1u);
    EXPECT_EQ(received(), "ls\n");
}

TEST_F(SerialConsoleTest, DropsWhatDoesNotFitInTheFifo) {
    SerialConsole console(serial_, std::move(reader_));
    type(std::string(Serial8250::kFifoSize - 4, 'a'));
    EXPECT_EQ(console.on_input(), EventSource::Next::kKeepWatching);
    type("0123456789");
    EXPECT_EQ(console.on_input(), EventSource::Next::kKeepWatching);
    EXPECT_EQ(serial_.counters().dropped_in, 6u);
    EXPECT_EQ(received(), std::string(Serial8250::kFifoSize - 4, 'a') + "0123");
}

TEST_F(SerialConsoleTest, NothingToReadKeepsWatchingAndEndOfFileStops) {
    SerialConsole console(serial_, std::move(reader_));
    EXPECT_EQ(console.on_input(), EventSource::Next::kKeepWatching);  // EAGAIN.
    writer_.reset();
    EXPECT_EQ(console.on_input(), EventSource::Next::kStopWatching);
    EXPECT_EQ(serial_.counters().bytes_in, 0u);
}

}  // namespace
}  // namespace ember
