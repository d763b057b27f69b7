// Ember's API under its real seccomp filters, in a forked child, and a client that sends it raw
// bytes. The child is wired as ember's main wires it (one malloc arena, the SIGSYS handler that
// exits with 148, the vmm loop on the main thread, the HTTP server on its own thread under the
// built-in api filter), and the main thread also runs under the built-in vmm filter, as it does
// once a guest runs. A forbidden syscall on either thread ends the child with 148.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace ember::api::testing {

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

// Connects to `socket`, writes `bytes` while reading whatever comes back (so that a server that
// stops reading until its answers are taken never deadlocks the exchange), until the server
// closes the connection or `timeout` passes. Returns everything read.
std::string send_and_receive(const std::string& socket, const std::string& bytes,
                     std::chrono::milliseconds timeout = std::chrono::seconds(30));

// The status codes of the HTTP/1.1 responses in `stream`, in order; stops at the first thing that
// is not a complete response (Content-Length framed, as the server frames every answer).
std::vector<int> response_statuses(const std::string& stream);

// One request with a Content-Length; `close` adds "Connection: close".
std::string http_request(const std::string& method, const std::string& path,
                         const std::string& body, bool close = true);

}  // namespace ember::api::testing
