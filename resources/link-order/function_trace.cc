// The runtime of a traced build (refresh.sh): with -finstrument-functions every function entry
// calls __cyg_profile_func_enter, and this records each function's address once, in the order
// the process first enters them, in the file EMBER_FUNCTION_TRACE names. Compiled without the
// flag. Lock-free: vCPU and device threads enter functions concurrently.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

constexpr size_t kSlots = 1 << 17;  // The traced build has about 35000 functions.
std::atomic<uintptr_t> g_seen[kSlots];
std::atomic<int> g_fd{-1};

__attribute__((no_instrument_function)) int trace_fd() {
    int fd = g_fd.load(std::memory_order_acquire);
    if (fd >= 0) return fd;
    const char* path = std::getenv("EMBER_FUNCTION_TRACE");
    if (path == nullptr) return -1;
    int opened = ::open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int expected = -1;
    if (!g_fd.compare_exchange_strong(expected, opened)) {
        ::close(opened);
        return expected;
    }
    return opened;
}

}  // namespace

extern "C" __attribute__((no_instrument_function)) void __cyg_profile_func_enter(void* fn, void*) {
    const auto address = reinterpret_cast<uintptr_t>(fn);
    for (size_t i = (address >> 4) % kSlots, n = 0; n < kSlots; i = (i + 1) % kSlots, ++n) {
        uintptr_t seen = g_seen[i].load(std::memory_order_relaxed);
        if (seen == address) return;
        if (seen == 0) {
            if (!g_seen[i].compare_exchange_strong(seen, address)) {
                if (seen == address) return;
                continue;
            }
            const int fd = trace_fd();
            if (fd < 0) return;
            char line[32];
            const int len =
                std::snprintf(line, sizeof line, "%lx\n", static_cast<unsigned long>(address));
            (void)!::write(fd, line, static_cast<size_t>(len));
            return;
        }
    }
}

extern "C" __attribute__((no_instrument_function)) void __cyg_profile_func_exit(void*, void*) {}
