#include "vmm/memory/huge_page_pool.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace ember {
namespace {

// A stand-in for /sys/kernel/mm/hugepages/hugepages-2048kB.
class HugePagePoolTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/ember-hugepages-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override {
        for (const char* f : kFiles) ::unlink((dir_ + "/" + f).c_str());
        ::rmdir(dir_.c_str());
    }
    void write_pool(uint64_t total, uint64_t free, uint64_t reserved, uint64_t overcommit = 0,
                    uint64_t surplus = 0) {
        const uint64_t values[] = {total, free, reserved, overcommit, surplus};
        for (size_t i = 0; i < std::size(kFiles); ++i) {
            std::ofstream(dir_ + "/" + kFiles[i]) << values[i] << "\n";
        }
    }

    static constexpr const char* kFiles[] = {"nr_hugepages", "free_hugepages", "resv_hugepages",
                                             "nr_overcommit_hugepages", "surplus_hugepages"};
    std::string dir_;
};

TEST_F(HugePagePoolTest, AvailablePagesLeaveOutTheReservedOnes) {
    write_pool(100, 40, 30);
    Result<HugePagePool> pool = HugePagePool::read(dir_);
    ASSERT_TRUE(pool) << pool.error().message();
    EXPECT_EQ(pool->total, 100u);
    EXPECT_EQ(pool->available(), 10u);
    write_pool(100, 40, 30, 8, 3);  // Five more surplus pages may come.
    EXPECT_EQ(HugePagePool::read(dir_)->available(), 15u);
}

TEST_F(HugePagePoolTest, ShortageNamesTheMissingPagesAndTheSysctl) {
    write_pool(16, 6, 2);
    std::string message = huge_page_shortage(64, HugePagePool::read(dir_));
    EXPECT_NE(message.find("64 pages of 2 MiB needed, 4 of the host's 16 are available"),
              std::string::npos)
        << message;
    // 16 + the 60 missing.
    EXPECT_NE(message.find("raise /proc/sys/vm/nr_hugepages"), std::string::npos) << message;
    EXPECT_NE(message.find("to at least 76"), std::string::npos) << message;
}

TEST_F(HugePagePoolTest, ShortageWithEnoughFreePagesBlamesALimitInstead) {
    write_pool(16, 16, 0);
    std::string message = huge_page_shortage(8, HugePagePool::read(dir_));
    EXPECT_NE(message.find("hugetlb cgroup limit"), std::string::npos) << message;
}

TEST_F(HugePagePoolTest, AHostWithoutAPoolIsSaidSo) {
    Result<HugePagePool> pool = HugePagePool::read(dir_ + "/missing");
    ASSERT_FALSE(pool);
    std::string message = huge_page_shortage(2, pool);
    EXPECT_NE(message.find("no 2 MiB huge page pool"), std::string::npos) << message;
    EXPECT_NE(message.find("/missing/nr_hugepages"), std::string::npos) << message;
}

// sysfs attributes report a size of 4096 whatever they hold: the real pool must read.
TEST(HugePagePool, ReadsTheHostsSysfsPool) {
    if (::access(HugePagePool::kSysfsDir, R_OK) != 0) GTEST_SKIP() << "no 2 MiB hugetlb pool here";
    Result<HugePagePool> pool = HugePagePool::read();
    ASSERT_TRUE(pool) << pool.error().message();
    EXPECT_LE(pool->free, pool->total);
}

TEST_F(HugePagePoolTest, RefusesACountThatIsNotOneDecimalNumber) {
    for (const char* text : {"", "\n", "abc\n", "12 pages\n", "-3\n", "99999999999999999999\n",
                             "123456789012345678901234567890123456789\n"}) {
        write_pool(10, 10, 0);
        std::ofstream(dir_ + "/free_hugepages") << text;
        Result<HugePagePool> pool = HugePagePool::read(dir_);
        ASSERT_FALSE(pool) << text;
        EXPECT_NE(pool.error().message().find("free_hugepages"), std::string::npos)
            << pool.error().message();
    }
}

}  // namespace
}  // namespace ember
