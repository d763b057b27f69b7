// Logging in Firecracker's line format:
//   <RFC 3339 time with ns> [<instance id>:<thread name>:<level>:<file>:<line>] <message>
// The sink (level, destination, instance id) is the one piece of process-wide mutable state Ember
// allows: it is set in main and by PUT /logger, behind a mutex.
#pragma once

#include <fmt/core.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "vmm/base/result.h"

namespace ember::log {

enum class Level : uint8_t { kOff = 0, kError, kWarning, kInfo, kDebug, kTrace };

// Parses Firecracker's level names (Error, Warning, Info, Debug, Trace, Off), case-insensitive.
Result<Level> parse_level(std::string_view name);
std::string_view level_name(Level level);
// `file` as __FILE__ spells it, relative to the source tree ("vmm/main.cc"): the origin a line
// shows, in the form of Firecracker's ("src/firecracker/src/main.rs"), which its tests match.
std::string_view source_path(std::string_view file);

struct Options {
    Level level = Level::kInfo;
    bool show_level = false;
    bool show_origin = false;
    // Firecracker's `module` filter: when set, only lines from source files under this path
    // (e.g. "api" or "vmm/core") are written.
    std::string module;
};

// Thread: any. Reconfigures the sink. An empty path means stderr... Firecracker logs to stdout,
// but Ember's stdout carries the guest console, so by default logs go to stderr.
// With create false the file must exist (PUT /logger, as Firecracker's); an open failure then
// reads as Rust's io::Error does ("... (os error 2)"), which Firecracker's tests match.
Result<void> configure(const Options& options, const std::string& path = {}, bool create = true);
void set_instance_id(std::string id);
// Names the calling thread in log lines (and in /proc via prctl), e.g. "fc_vcpu 0".
void set_thread_name(const std::string& name);
bool enabled(Level level);
// Lines that could not be written (a full FIFO, a closed file): the logger.missed_log_count metric.
uint64_t missed_lines();

void write(Level level, const char* file, int line, std::string_view message);
// The time of a log line, to the second: "2026-12-07T03:02:55" (UTC, no time-zone lookup).
std::string utc_stamp(int64_t unix_seconds);

// Lets through `burst` lines per `period`, then counts the rest and reports how many were
// suppressed when it opens again. Owned by whoever logs on a guest-triggerable path.
class LineLimiter {
public:
    explicit LineLimiter(uint32_t burst = 10,
                         std::chrono::milliseconds period = std::chrono::seconds(5))
        : burst_(burst), period_(period) {}
    // True when this line may be printed; `suppressed` gets the count dropped since the last one.
    bool allow(uint64_t& suppressed);

private:
    uint32_t burst_;
    std::chrono::milliseconds period_;
    std::chrono::steady_clock::time_point window_start_{};
    uint32_t in_window_ = 0;
    uint64_t suppressed_ = 0;
};

}  // namespace ember::log

#define EMBER_LOG(level, ...)                                                           \
    do {                                                                                \
        if (::ember::log::enabled(level))                                               \
            ::ember::log::write(level, __FILE__, __LINE__, ::fmt::format(__VA_ARGS__)); \
    } while (0)
#define EMBER_ERROR(...) EMBER_LOG(::ember::log::Level::kError, __VA_ARGS__)
#define EMBER_WARN(...) EMBER_LOG(::ember::log::Level::kWarning, __VA_ARGS__)
#define EMBER_INFO(...) EMBER_LOG(::ember::log::Level::kInfo, __VA_ARGS__)
#define EMBER_DEBUG(...) EMBER_LOG(::ember::log::Level::kDebug, __VA_ARGS__)

// For every log site a guest can trigger: `limiter` is a log::LineLimiter the caller owns.
#define EMBER_LOG_LIMITED(limiter, level, ...)                                                    \
    do {                                                                                          \
        uint64_t ember_suppressed_ = 0;                                                           \
        if (::ember::log::enabled(level) && (limiter).allow(ember_suppressed_)) {                 \
            std::string ember_msg_ = ::fmt::format(__VA_ARGS__);                                  \
            if (ember_suppressed_)                                                                \
                ember_msg_ += ::fmt::format(" ({} similar lines suppressed)", ember_suppressed_); \
            ::ember::log::write(level, __FILE__, __LINE__, ember_msg_);                           \
        }                                                                                         \
    } while (0)
