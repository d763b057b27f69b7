#include "vmm/base/terminal.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "vmm/base/unique_fd.h"

namespace ember {
namespace {

// A pseudo-terminal pair; the tests put its follower side in raw mode.
struct Pty {
    Pty() {
        leader.reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
        if (!leader || ::grantpt(leader.get()) != 0 || ::unlockpt(leader.get()) != 0) return;
        follower.reset(::open(::ptsname(leader.get()), O_RDWR | O_NOCTTY | O_CLOEXEC));
    }
    termios attrs() const {
        termios t{};
        ::tcgetattr(follower.get(), &t);
        return t;
    }
    UniqueFd leader;
    UniqueFd follower;
};

bool same(const termios& a, const termios& b) {
    return a.c_iflag == b.c_iflag && a.c_oflag == b.c_oflag && a.c_cflag == b.c_cflag &&
           a.c_lflag == b.c_lflag && a.c_cc[VMIN] == b.c_cc[VMIN] && a.c_cc[VTIME] == b.c_cc[VTIME];
}

TEST(RawTermios, TurnsOffLineEditingEchoAndKeyboardSignalsOnly) {
    termios cooked{};
    cooked.c_iflag = ICRNL | IXON;
    cooked.c_oflag = OPOST | ONLCR;
    cooked.c_lflag = ICANON | ECHO | ISIG | IEXTEN | ECHOE;
    cooked.c_cc[VMIN] = 0;
    cooked.c_cc[VTIME] = 5;
    const termios raw = raw_termios(cooked);
    EXPECT_EQ(raw.c_lflag & (ICANON | ECHO | ISIG), 0U);
    EXPECT_EQ(raw.c_lflag & (IEXTEN | ECHOE), static_cast<tcflag_t>(IEXTEN | ECHOE));
    EXPECT_EQ(raw.c_iflag, cooked.c_iflag);
    EXPECT_EQ(raw.c_oflag, cooked.c_oflag);  // The guest's "\n" still reaches the screen as CR LF.
    EXPECT_EQ(raw.c_cc[VMIN], 1);
    EXPECT_EQ(raw.c_cc[VTIME], 0);
}

TEST(TerminalRawMode, IsInactiveOnSomethingThatIsNotATerminal) {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    UniqueFd r(fds[0]), w(fds[1]);
    Result<TerminalRawMode> mode = TerminalRawMode::enter(r.get());
    ASSERT_TRUE(mode.has_value());
    EXPECT_FALSE(mode->active());
}

TEST(TerminalRawMode, EntersRawModeAndRestoresTheTerminalWhenDestroyed) {
    Pty pty;
    ASSERT_TRUE(pty.follower.valid());
    const termios before = pty.attrs();
    ASSERT_NE(before.c_lflag & ICANON, 0U);  // A fresh pty starts cooked.
    {
        Result<TerminalRawMode> mode = TerminalRawMode::enter(pty.follower.get());
        ASSERT_TRUE(mode.has_value());
        EXPECT_TRUE(mode->active());
        EXPECT_EQ(pty.attrs().c_lflag & (ICANON | ECHO | ISIG), 0U);
        // Moving it keeps one owner: only the last one restores.
        TerminalRawMode moved = std::move(*mode);
        EXPECT_FALSE(mode->active());
        EXPECT_TRUE(moved.active());
    }
    EXPECT_TRUE(same(pty.attrs(), before));
}

TEST(TerminalRawMode, RestoreIsIdempotent) {
    Pty pty;
    ASSERT_TRUE(pty.follower.valid());
    const termios before = pty.attrs();
    Result<TerminalRawMode> mode = TerminalRawMode::enter(pty.follower.get());
    ASSERT_TRUE(mode.has_value());
    mode->restore();
    EXPECT_TRUE(same(pty.attrs(), before));
    EXPECT_FALSE(mode->active());
    // Someone else changes the terminal now; a second restore must not undo that.
    termios other = before;
    other.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ASSERT_EQ(::tcsetattr(pty.follower.get(), TCSANOW, &other), 0);
    mode->restore();
    EXPECT_EQ(pty.attrs().c_lflag & ECHO, 0U);
}

TEST(ExitSignals, ASignalBecomesAReadableEventInsteadOfEndingTheProcess) {
    const int signals[] = {SIGUSR2};
    Result<ExitSignals> exit_signals = ExitSignals::create(signals);
    ASSERT_TRUE(exit_signals.has_value());
    Result<int> none = exit_signals->read();
    ASSERT_FALSE(none.has_value());  // Nothing pending: EAGAIN, not a block.
    // SIGUSR2's default action would end this test binary; blocked, it waits on the fd instead.
    ASSERT_EQ(::kill(::getpid(), SIGUSR2), 0);
    Result<int> signo = exit_signals->read();
    ASSERT_TRUE(signo.has_value());
    EXPECT_EQ(*signo, SIGUSR2);
    EXPECT_EQ(exit_code_for_signal(SIGTERM), 143);
}

}  // namespace
}  // namespace ember
