// Ember's API under its real seccomp filters, in a forked child (raw_http_client.h talks to it).
// The child is wired as ember's main wires it (one malloc arena, the SIGSYS handler that exits
// with 148, the vmm loop on the main thread, the HTTP server on its own thread under the built-in
// api filter), and the main thread also runs under the built-in vmm filter, as it does once a
// guest runs. A forbidden syscall on either thread ends the child with 148.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "tests/fakes/sanitizers.h"

namespace ember::api::testing {

// The filters allow what glibc's malloc needs; a sanitizer's allocator makes other calls, so the
// tests that run allocating code under the real filters skip in sanitizer builds.
inline constexpr bool kSanitizerAllocator = ember::testing::kUnderSanitizer;

class FilteredApiChild {
public:
    // Forks the child serving `dir`/api.sock; returns once the socket accepts (or the child died).
    explicit FilteredApiChild(const std::string& dir);
    ~FilteredApiChild();  // SIGKILL and reap.
    FilteredApiChild(const FilteredApiChild&) = delete;
    FilteredApiChild& operator=(const FilteredApiChild&) = delete;

    const std::string& socket_path() const { return socket_; }
    // True while the child has not exited; once it has, exit_status() says how.
    bool alive();
    // "exit N" or "signal N", and the child's stderr (the bad-syscall line), for failure messages.
    std::string obituary();

private:
    std::string socket_;
    std::string stderr_path_;
    pid_t pid_ = -1;
    std::optional<int> status_;
};

}  // namespace ember::api::testing
