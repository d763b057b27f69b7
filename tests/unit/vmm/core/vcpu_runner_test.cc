#include "vmm/core/vcpu_runner.h"

#include <gtest/gtest.h>
#include <linux/kvm.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ember {
namespace {

using Kind = kvm::VcpuExit::Kind;

// A vCPU without KVM: each run() returns the next scripted exit, or an OUT to port 0x80 when the
// script is empty, or kInterrupted when immediate_exit is set, as KVM_RUN does.
class FakeVcpu : public kvm::RunnableVcpu {
public:
    Result<kvm::VcpuExit> run() override {
        if (parked.load()) ran_while_parked.store(true);
        runs.fetch_add(1);
        record(immediate_exit.load() ? 'R' : 'r');
        if (immediate_exit.load()) return kvm::VcpuExit{.kind = Kind::kInterrupted};
        {
            std::lock_guard lock(mu);
            if (!script.empty()) {
                Result<kvm::VcpuExit> next = std::move(script.front());
                script.pop_front();
                return next;
            }
        }
        std::this_thread::yield();
        return kvm::VcpuExit{
            .kind = Kind::kIoOut, .address = 0x80, .size = 1, .count = 1, .data = {post_code, 1}};
    }
    void set_immediate_exit(bool value) override {
        immediate_exit.store(value);
        record(value ? 'T' : 'F');
    }
    // The calls seen, latest last: r/R run without/with immediate_exit, T/F set it true/false.
    void record(char event) {
        std::lock_guard lock(mu);
        events.push_back(event);
    }
    std::string last_events(size_t n) {
        std::lock_guard lock(mu);
        return events.substr(events.size() - std::min(n, events.size()));
    }

    void push(Result<kvm::VcpuExit> exit) {
        std::lock_guard lock(mu);
        script.push_back(std::move(exit));
    }

    std::atomic<bool> immediate_exit{false};
    std::atomic<uint64_t> runs{0};
    std::atomic<bool> parked{false};
    std::atomic<bool> ran_while_parked{false};
    uint8_t post_code[1] = {0x42};
    std::mutex mu;
    std::deque<Result<kvm::VcpuExit>> script;
    std::string events;
};

// Counts writes on its window and answers reads with 0x5a.
class CountingDevice : public BusDevice {
public:
    void read(uint64_t, std::span<uint8_t> data) override {
        for (uint8_t& b : data) b = 0x5a;
    }
    void write(uint64_t, std::span<const uint8_t> data) override {
        writes.fetch_add(1);
        last.store(data[0]);
    }
    std::atomic<int> writes{0};
    std::atomic<uint8_t> last{0};
};

template <typename Pred>
void spin_until(Pred pred) {
    while (!pred()) std::this_thread::yield();
}

// Blocks until `evt` is readable.
void wait_readable(const EventFd& evt) {
    pollfd pfd{.fd = evt.fd(), .events = POLLIN, .revents = 0};
    while (::poll(&pfd, 1, -1) <= 0) {
    }
}

class VcpuRunnerTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(pio.insert(0x80, 1, &port80).has_value());
        ASSERT_TRUE(pio.insert(0x60, 5, &port60).has_value());
    }

    FakeVcpu vcpu;
    Bus pio;
    Bus mmio;
    CountingDevice port80;
    CountingDevice port60;
    EventFd exit_evt = EventFd::create().value();
};

TEST_F(VcpuRunnerTest, RunsAndDispatchesPortWritesToTheBus) {
    VcpuRunner runner(vcpu, pio, mmio, exit_evt, {});
    ASSERT_TRUE(runner.start().has_value());
    spin_until([&] { return port80.writes.load() > 3; });
    EXPECT_EQ(port80.last.load(), 0x42);
    EXPECT_EQ(runner.state(), VcpuRunner::State::kRunning);
    runner.stop();
    EXPECT_EQ(runner.state(), VcpuRunner::State::kExited);
    EXPECT_EQ(runner.outcome(), VcpuRunner::Outcome::kNone);
    EXPECT_FALSE(exit_evt.read().has_value());  // A VMM-requested stop is not reported back.
}

TEST_F(VcpuRunnerTest, PauseParksTheThreadUntilResume) {
    VcpuRunner runner(vcpu, pio, mmio, exit_evt, {});
    ASSERT_TRUE(runner.start().has_value());
    spin_until([&] { return vcpu.runs.load() > 0; });
    ASSERT_TRUE(runner.pause().has_value());
    EXPECT_EQ(runner.state(), VcpuRunner::State::kPaused);
    vcpu.parked.store(true);
    uint64_t runs = vcpu.runs.load();
    for (int i = 0; i < 10000; ++i) std::this_thread::yield();
    EXPECT_FALSE(vcpu.ran_while_parked.load());
    EXPECT_EQ(vcpu.runs.load(), runs);
    EXPECT_TRUE(runner.pause().has_value());  // Already paused: nothing to do.

    vcpu.parked.store(false);
    ASSERT_TRUE(runner.resume().has_value());
    EXPECT_EQ(runner.state(), VcpuRunner::State::kRunning);
    spin_until([&] { return vcpu.runs.load() > runs + 2; });
    EXPECT_FALSE(runner.resume().has_value());  // Not paused.
    runner.stop();
}

// KVM completes a port or MMIO exit only on the next KVM_RUN; a paused vCPU (whose state a
// snapshot saves) must have entered once more with immediate_exit set after its last exit.
TEST_F(VcpuRunnerTest, PauseCompletesTheLastExitWithAnImmediateExitRun) {
    VcpuRunner runner(vcpu, pio, mmio, exit_evt, {});
    ASSERT_TRUE(runner.start().has_value());
    spin_until([&] { return vcpu.runs.load() > 0; });
    ASSERT_TRUE(runner.pause().has_value());
    EXPECT_EQ(vcpu.last_events(3), "TRF");
    runner.stop();
}

// A snapshot loaded without resume_vm: the thread exists but the guest runs nothing until resume.
TEST_F(VcpuRunnerTest, StartPausedRunsNothingUntilResume) {
    VcpuRunner runner(vcpu, pio, mmio, exit_evt, {.start_paused = true});
    ASSERT_TRUE(runner.start().has_value());
    EXPECT_EQ(runner.state(), VcpuRunner::State::kPaused);
    for (int i = 0; i < 10000; ++i) std::this_thread::yield();
    EXPECT_EQ(port80.writes.load(), 0u);
    ASSERT_TRUE(runner.resume().has_value());
    spin_until([&] { return port80.writes.load() > 3; });
    EXPECT_EQ(runner.state(), VcpuRunner::State::kRunning);
    runner.stop();
}

TEST_F(VcpuRunnerTest, StopWorksWhilePaused) {
    VcpuRunner runner(vcpu, pio, mmio, exit_evt, {});
    ASSERT_TRUE(runner.start().has_value());
    ASSERT_TRUE(runner.pause().has_value());
    runner.stop();
    EXPECT_EQ(runner.state(), VcpuRunner::State::kExited);
}

TEST_F(VcpuRunnerTest, PauseBeforeStartFails) {
    VcpuRunner runner(vcpu, pio, mmio, exit_evt, {});
    EXPECT_FALSE(runner.pause().has_value());
}

TEST_F(VcpuRunnerTest, GuestResetEndsTheThreadAndSignalsTheVmm) {
    vcpu.push(kvm::VcpuExit{.kind = Kind::kSystemEvent, .code = KVM_SYSTEM_EVENT_RESET});
    VcpuRunner runner(vcpu, pio, mmio, exit_evt, {});
    ASSERT_TRUE(runner.start().has_value());
    wait_readable(exit_evt);
    EXPECT_EQ(runner.outcome(), VcpuRunner::Outcome::kGuestShutdown);
    EXPECT_EQ(runner.state(), VcpuRunner::State::kExited);
    EXPECT_FALSE(runner.pause().has_value());
}

TEST_F(VcpuRunnerTest, KvmRunFailureEndsWithAnError) {
    vcpu.push(Error::from_errno(EFAULT, "KVM_RUN"));
    VcpuRunner runner(vcpu, pio, mmio, exit_evt, {});
    ASSERT_TRUE(runner.start().has_value());
    wait_readable(exit_evt);
    EXPECT_EQ(runner.outcome(), VcpuRunner::Outcome::kError);
    EXPECT_NE(runner.error_message().find("KVM_RUN"), std::string::npos);
}

TEST_F(VcpuRunnerTest, EntryFailureEndsWithAnError) {
    vcpu.push(kvm::VcpuExit{.kind = Kind::kFailEntry, .code = 0x80000021});
    VcpuRunner runner(vcpu, pio, mmio, exit_evt, {});
    ASSERT_TRUE(runner.start().has_value());
    wait_readable(exit_evt);
    EXPECT_EQ(runner.outcome(), VcpuRunner::Outcome::kError);
}

TEST_F(VcpuRunnerTest, UnclaimedPortReadsReturnAllOnesAndClaimedOnesTheDevice) {
    uint8_t unclaimed[4] = {0, 0, 0, 0};  // A 2-byte `rep insb` of count 2.
    uint8_t claimed[1] = {0};
    vcpu.push(kvm::VcpuExit{
        .kind = Kind::kIoIn, .address = 0x1234, .size = 2, .count = 2, .data = {unclaimed, 4}});
    vcpu.push(kvm::VcpuExit{
        .kind = Kind::kIoIn, .address = 0x64, .size = 1, .count = 1, .data = {claimed, 1}});
    vcpu.push(kvm::VcpuExit{.kind = Kind::kShutdown});
    VcpuRunner runner(vcpu, pio, mmio, exit_evt, {});
    ASSERT_TRUE(runner.start().has_value());
    wait_readable(exit_evt);
    for (uint8_t b : unclaimed) EXPECT_EQ(b, 0xff);
    EXPECT_EQ(claimed[0], 0x5a);
}

TEST_F(VcpuRunnerTest, UnclaimedMmioReadsReturnZeros) {
    uint8_t data[4] = {1, 2, 3, 4};
    vcpu.push(kvm::VcpuExit{
        .kind = Kind::kMmioRead, .address = 0xd0000000, .size = 4, .count = 1, .data = {data, 4}});
    vcpu.push(kvm::VcpuExit{.kind = Kind::kHlt});
    VcpuRunner runner(vcpu, pio, mmio, exit_evt, {});
    ASSERT_TRUE(runner.start().has_value());
    wait_readable(exit_evt);
    for (uint8_t b : data) EXPECT_EQ(b, 0);
}

// A vCPU whose run() blocks in a system call, as KVM_RUN does while the guest runs: only the
// kick signal gets it out.
class BlockingVcpu : public kvm::RunnableVcpu {
public:
    BlockingVcpu() { EXPECT_EQ(::pipe(pipe_), 0); }
    ~BlockingVcpu() override {
        ::close(pipe_[0]);
        ::close(pipe_[1]);
    }
    Result<kvm::VcpuExit> run() override {
        if (immediate_exit.load()) return kvm::VcpuExit{.kind = Kind::kInterrupted};
        entered.store(true);
        pollfd pfd{.fd = pipe_[0], .events = POLLIN, .revents = 0};
        // Nothing is ever written to the pipe: only a signal (EINTR) or the timeout returns.
        int r = ::poll(&pfd, 1, 10000);
        if (r < 0 && errno == EINTR) signalled.fetch_add(1);
        return kvm::VcpuExit{.kind = Kind::kInterrupted};
    }
    void set_immediate_exit(bool value) override { immediate_exit.store(value); }

    std::atomic<bool> immediate_exit{false};
    std::atomic<bool> entered{false};
    std::atomic<int> signalled{0};

private:
    int pipe_[2] = {-1, -1};
};

TEST_F(VcpuRunnerTest, KickSignalInterruptsABlockedRun) {
    BlockingVcpu blocking;
    VcpuRunner runner(blocking, pio, mmio, exit_evt, {});
    ASSERT_TRUE(runner.start().has_value());
    spin_until([&] { return blocking.entered.load(); });
    for (int i = 0; i < 1000; ++i) std::this_thread::yield();  // Let it reach poll().
    auto before = std::chrono::steady_clock::now();
    ASSERT_TRUE(runner.pause().has_value());
    EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(5));
    EXPECT_EQ(blocking.signalled.load(), 1);
    runner.stop();
}

}  // namespace
}  // namespace ember
