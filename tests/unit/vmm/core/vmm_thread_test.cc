// VmmThread (calls from other threads run on the vmm thread, late calls on their caller) and the
// one phase check of the controller.
#include "vmm/core/vmm_thread.h"

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <thread>

#include "vmm/core/vm_phase.h"

namespace ember {
namespace {

TEST(VmmThread, RunsCallsFromOtherThreadsOnTheVmmThreadAndEndsWithTheExitCode) {
    // Created on the thread that runs it, as main does: until run(), that thread is the vmm
    // thread.
    std::unique_ptr<VmmThread> thread;
    std::promise<std::thread::id> vmm_id;
    std::jthread vmm([&] {
        auto created = VmmThread::create();
        if (!created) {
            ADD_FAILURE() << created.error().message();
            vmm_id.set_value({});
            return;
        }
        thread = std::move(*created);
        vmm_id.set_value(std::this_thread::get_id());
        EXPECT_EQ(thread->run([] {}), VmmThread::kExitGeneric);
    });
    std::thread::id expected = vmm_id.get_future().get();
    ASSERT_TRUE(thread);
    std::thread::id ran_on =
        thread->call<std::thread::id>([] { return std::this_thread::get_id(); });
    EXPECT_EQ(ran_on, expected);
    thread->request_exit(VmmThread::kExitGeneric);
    vmm.join();
    // After run() has returned, a call runs on its caller instead of waiting forever.
    EXPECT_EQ(thread->call<std::thread::id>([] { return std::this_thread::get_id(); }),
              std::this_thread::get_id());
}

TEST(VmmThread, RunsAtStopBeforeReturning) {
    auto created = VmmThread::create();
    ASSERT_TRUE(created);
    bool stopped = false;
    (*created)->request_exit(VmmThread::kExitOk);
    EXPECT_EQ((*created)->run([&] { stopped = true; }), VmmThread::kExitOk);
    EXPECT_TRUE(stopped);
}

TEST(CheckPhase, AllowsTheRulesStatesAndRefusesOthersAsAWrongPhase) {
    EXPECT_TRUE(check_phase(VmState::kNotStarted, kPhaseBeforeBoot, "PUT /drives"));
    Result<void> late = check_phase(VmState::kRunning, kPhaseBeforeBoot, "PUT /drives");
    ASSERT_FALSE(late);
    EXPECT_EQ(late.error().kind(), ErrorKind::kWrongPhase);
    EXPECT_EQ(late.error().message(),
              "The requested operation is not supported after starting the microVM.");
    Result<void> early = check_phase(VmState::kNotStarted, kPhaseStarted, "pause");
    ASSERT_FALSE(early);
    EXPECT_EQ(early.error().message(),
              "The requested operation is not supported before starting the microVM.");
    Result<void> running = check_phase(VmState::kRunning, kPhasePaused, "PUT /snapshot/create");
    ASSERT_FALSE(running);
    EXPECT_EQ(running.error().message(),
              "Create snapshot error: Cannot save the microVM state: Operation not allowed: "
              "save/restore unavailable while running");
    EXPECT_TRUE(check_phase(VmState::kPaused, kPhaseStarted, "pause"));
    EXPECT_TRUE(check_phase(VmState::kRunning, kPhaseDeviceUpdate, "PATCH /drives"));
    EXPECT_FALSE(check_phase(VmState::kNotStarted, kPhaseDeviceUpdate, "PATCH /drives"));
    EXPECT_FALSE(check_phase(VmState::kRunning, kPhasePaused, "PUT /snapshot/create"));
    EXPECT_FALSE(check_phase(VmState::kPaused, kPhaseNoVm, "PUT /snapshot/load"));
}

}  // namespace
}  // namespace ember
