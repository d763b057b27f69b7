// HugePagePool: the host's pool of 2 MiB hugetlb pages as sysfs counts it, read to tell a user
// whose 2M guest cannot get its pages how many are missing and where to reserve them.
// Thread: any; it only reads files.
#pragma once

#include <cstdint>
#include <string>

#include "vmm/base/result.h"

namespace ember {

struct HugePagePool {
    static constexpr const char* kSysfsDir = "/sys/kernel/mm/hugepages/hugepages-2048kB";

    uint64_t total = 0;       // nr_hugepages: the pool's size.
    uint64_t free = 0;        // free_hugepages: not in use, counting those reserved but untouched.
    uint64_t reserved = 0;    // resv_hugepages: promised to mappings, not yet faulted in.
    uint64_t overcommit = 0;  // nr_overcommit_hugepages: how many more the kernel may add...
    uint64_t surplus = 0;     // surplus_hugepages: ...and how many of those it has added.

    // Pages a new reservation can still take (surplus ones only if the kernel finds the memory).
    uint64_t available() const {
        return (free > reserved ? free - reserved : 0) +
               (overcommit > surplus ? overcommit - surplus : 0);
    }

    // Reads the counts from `dir` (a fake one in tests).
    static Result<HugePagePool> read(const std::string& dir = kSysfsDir);
};

// Why `pages_needed` 2 MiB pages could not be reserved, and the nr_hugepages value that would
// allow it; `pool` is the error when the pool could not be read at all.
std::string huge_page_shortage(uint64_t pages_needed, const Result<HugePagePool>& pool);

}  // namespace ember
