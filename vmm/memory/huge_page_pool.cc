#include "vmm/memory/huge_page_pool.h"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <chrono>

#include "vmm/base/file_open.h"

namespace ember {
namespace {

// One decimal count and its newline. A sysfs attribute says it holds a page (st_size 4096) and
// holds a few bytes. (Not std::ifstream: iostreams pulled 440 KB of locale and stream code into
// the static binary for these five reads.)
Result<uint64_t> read_count(const std::string& dir, const char* name) {
    constexpr size_t kMaxBytes = 4096;
    const std::string path = dir + "/" + name;
    const std::string text = EMBER_TRY(read_named_file(
        path, FileKinds::kRegular, kMaxBytes, std::chrono::milliseconds(0), "read huge page pool"));
    uint64_t value = 0;
    const char* end = text.data() + text.size();
    const auto [next, ec] = std::from_chars(text.data(), end, value);
    const bool only_space = std::all_of(next, end, [](char c) { return c == '\n' || c == ' '; });
    if (ec != std::errc() || next == text.data() || !only_space) {
        return Error::invalid("read huge page pool", path + ": not a count");
    }
    return value;
}

}  // namespace

Result<HugePagePool> HugePagePool::read(const std::string& dir) {
    HugePagePool pool;
    pool.total = EMBER_TRY(read_count(dir, "nr_hugepages"));
    pool.free = EMBER_TRY(read_count(dir, "free_hugepages"));
    pool.reserved = EMBER_TRY(read_count(dir, "resv_hugepages"));
    pool.overcommit = EMBER_TRY(read_count(dir, "nr_overcommit_hugepages"));
    pool.surplus = EMBER_TRY(read_count(dir, "surplus_hugepages"));
    return pool;
}

std::string huge_page_shortage(uint64_t pages_needed, const Result<HugePagePool>& pool) {
    if (!pool) {
        return fmt::format(
            "{} pages of 2 MiB needed, and the host has no 2 MiB huge page pool to "
            "reserve them in with /proc/sys/vm/nr_hugepages ({})",
            pages_needed, pool.error().message());
    }
    if (pool->available() >= pages_needed) {
        return fmt::format(
            "{} pages of 2 MiB needed and {} of the host's {} are available: a "
            "hugetlb cgroup limit or another process may have taken them",
            pages_needed, pool->available(), pool->total);
    }
    // /proc/sys/vm/nr_hugepages sizes the pool of the default huge page size, 2 MiB on x86_64
    // unless the host boots with default_hugepagesz; the sysfs file always means 2 MiB.
    return fmt::format(
        "{} pages of 2 MiB needed, {} of the host's {} are available ({} free, {} "
        "reserved); raise /proc/sys/vm/nr_hugepages (or {}/nr_hugepages) to at "
        "least {}",
        pages_needed, pool->available(), pool->total, pool->free, pool->reserved,
        HugePagePool::kSysfsDir, pool->total + pages_needed - pool->available());
}

}  // namespace ember
