#include "vmm/base/result.h"

#include <gtest/gtest.h>

namespace ember {
namespace {

Result<int> parse_positive(int v) {
    if (v <= 0) return Error::invalid("parse_positive", "not positive");
    return v;
}

Result<int> doubled(int v) {
    int x = EMBER_TRY(parse_positive(v));
    return 2 * x;
}

TEST(Result, PropagatesErrorsThroughTry) {
    auto r = doubled(-1);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(), "parse_positive: not positive");
}

TEST(Result, YieldsTheValueThroughTry) {
    auto r = doubled(21);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, 42);
}

TEST(Result, ErrnoErrorsNameTheSyscallAndTheReason) {
    Error e = Error::from_errno(ENOENT, "open", "/nope");
    EXPECT_EQ(e.message(), "open: /nope: No such file or directory");
}

TEST(Result, WithinPutsAnOuterContextInFrontAndKeepsTheCode) {
    Error e = Error::from_errno(ENOENT, "open", "/nope").within("snapshot load");
    EXPECT_EQ(e.message(), "snapshot load: open: /nope: No such file or directory");
    EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory);
    EXPECT_EQ(Error::invalid("field").within("outer").message(), "outer: field");
}

TEST(Result, ErrorsCarryAKindThatWithinKeeps) {
    EXPECT_EQ(Error::invalid("f").kind(), ErrorKind::kInvalidInput);
    EXPECT_EQ(Error::from_errno(ENOENT, "open").kind(), ErrorKind::kInternal);
    EXPECT_EQ(Error::from_errno(ENOENT, "open", "/p", ErrorKind::kInvalidInput).kind(),
              ErrorKind::kInvalidInput);
    EXPECT_EQ(Error::not_found("drive_id").within("outer").kind(), ErrorKind::kNotFound);
    EXPECT_EQ(Error::from_errno(EIO, "read").with_kind(ErrorKind::kInvalidInput).code(),
              std::errc::io_error);
}

// The kinds without an OS cause add no strerror text; a wrong phase keeps its EPERM text.
TEST(Result, KindsKeepTheMessagesTheyHadBeforeKinds) {
    EXPECT_EQ(Error::not_found("drive_id", "no drive 'x'").message(), "drive_id: no drive 'x'");
    EXPECT_EQ(Error::unsupported("balloon").message(), "balloon");
    EXPECT_EQ(Error::wrong_phase("pause", "the VM is not started").message(),
              "pause: the VM is not started: Operation not permitted");
}

}  // namespace
}  // namespace ember
