// What the kernel says backs a mapping of this process, from /proc/self/smaps, for tests that
// check huge pages are really there; and how many 2 MiB hugetlb pages the host can still give.
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "vmm/memory/huge_page_pool.h"

namespace ember::test {

// The fields of the smaps entry whose range holds `addr` ("KernelPageSize" -> "2048 kB",
// "VmFlags" -> "rd wr mr mw me ac hg", ...); empty when no entry does.
inline std::map<std::string, std::string> smaps_of(const void* addr) {
    const auto a = reinterpret_cast<uintptr_t>(addr);
    std::ifstream in("/proc/self/smaps");
    std::map<std::string, std::string> fields;
    bool inside = false;
    for (std::string line; std::getline(in, line);) {
        uintptr_t lo = 0, hi = 0;
        char dash = 0;
        std::istringstream head(line);
        // A range line ("7f..-7f.. rw-p ...") starts each entry; field lines are "Name:  value".
        if (head >> std::hex >> lo >> dash >> hi && dash == '-' &&
            line.find(':') > line.find(' ')) {
            if (inside) break;
            inside = a >= lo && a < hi;
            continue;
        }
        const size_t colon = line.find(':');
        if (!inside || colon == std::string::npos) continue;
        const size_t value = line.find_first_not_of(' ', colon + 1);
        fields[line.substr(0, colon)] = value == std::string::npos ? "" : line.substr(value);
    }
    return fields;
}

// "2048 kB" -> 2048.
inline uint64_t smaps_kib(const std::map<std::string, std::string>& fields,
                          const std::string& key) {
    auto it = fields.find(key);
    return it == fields.end() ? 0 : std::stoull(it->second);
}

// 2 MiB hugetlb pages a new mapping can reserve now; 0 when the host has no pool.
inline uint64_t available_huge_pages() {
    Result<HugePagePool> pool = HugePagePool::read();
    return pool ? pool->available() : 0;
}

}  // namespace ember::test
