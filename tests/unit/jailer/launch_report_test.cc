// The pipe through which a forked jail tells the process the user started how it ended.
#include "jailer/launch_report.h"

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <csignal>

namespace ember::jailer {
namespace {

// Forks a writer that runs `step` on its copy of the report, then ends as `end` says.
enum class End : uint8_t { kExit, kKilled };
template <typename Step>
Result<void> outcome(Step step, End end) {
    Result<LaunchReport> report = LaunchReport::create();
    EXPECT_TRUE(report);
    pid_t pid = ::fork();
    if (pid == 0) {
        report->detach_reader();
        step(*report);
        if (end == End::kKilled) ::raise(SIGKILL);
        ::_exit(0);
    }
    Result<void> result = report->wait_for_exec();
    ::waitpid(pid, nullptr, 0);
    return result;
}

TEST(LaunchReport, SucceedsWhenTheWriterReachedExecAndSaidNothingElse) {
    EXPECT_TRUE(outcome([](const LaunchReport& r) { r.mark_exec(); }, End::kExit));
}

TEST(LaunchReport, FailsWithTheReportedMessage) {
    Result<void> r = outcome(
        [](const LaunchReport& rep) {
            rep.mark_exec();
            rep.report_failure("exec: /ember: Permission denied");
        },
        End::kExit);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("exec: /ember: Permission denied"), std::string::npos);
}

TEST(LaunchReport, FailsWhenTheWriterDiedBeforeExec) {
    Result<void> r = outcome([](const LaunchReport&) {}, End::kKilled);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("died before exec"), std::string::npos)
        << r.error().message();
}

TEST(LaunchReport, KeepsOnlyTheFirstBytesOfAnOverlongMessage) {
    Result<void> r = outcome(
        [](const LaunchReport& rep) { rep.report_failure(std::string(100000, 'x')); }, End::kExit);
    ASSERT_FALSE(r);
    EXPECT_LE(r.error().detail().size(), kMaxLaunchReportBytes);
}

TEST(LaunchReport, AnInactiveReportIgnoresWrites) {
    LaunchReport none;
    EXPECT_FALSE(none.active());
    none.mark_exec();
    none.report_failure("nobody listens");
}

}  // namespace
}  // namespace ember::jailer
