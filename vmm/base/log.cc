#include "vmm/base/log.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <ctime>
#include <mutex>

#include "vmm/base/file_open.h"
#include "vmm/base/unique_fd.h"

namespace ember::log {
namespace {

// The process-wide sink (see log.h for why this one global exists).
struct Sink {
    std::mutex mu;
    Options options;
    UniqueFd file;  // Invalid: stderr.
    std::string instance_id = "anonymous-instance";
};

Sink& sink() {
    static Sink s;
    return s;
}

std::atomic<uint8_t> g_level{static_cast<uint8_t>(Level::kInfo)};
std::atomic<uint64_t> g_missed{0};
thread_local std::string t_thread_name = "main";

// True when `file` (as __FILE__ spells it) lies under the folder or file stem `module`.
bool from_module(std::string_view file, std::string_view module) {
    for (size_t at = file.find(module); at != std::string_view::npos;
         at = file.find(module, at + 1)) {
        bool starts = at == 0 || file[at - 1] == '/';
        char next = at + module.size() < file.size() ? file[at + module.size()] : '\0';
        if (starts && (next == '/' || next == '.')) return true;
    }
    return false;
}

}  // namespace

Result<Level> parse_level(std::string_view name) {
    static constexpr std::pair<std::string_view, Level> kNames[] = {
        {"off", Level::kOff},      {"error", Level::kError}, {"warning", Level::kWarning},
        {"warn", Level::kWarning}, {"info", Level::kInfo},   {"debug", Level::kDebug},
        {"trace", Level::kTrace}};
    std::string lower(name);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const auto& [n, level] : kNames) {
        if (n == lower) return level;
    }
    return Error::invalid("log level", fmt::format("unknown level '{}'", name));
}

std::string_view source_path(std::string_view file) {
    // An absolute build: this file's own path gives the source root every other __FILE__
    // starts with. A relative one (ccache's base_dir) spells each path from the build folder.
    constexpr std::string_view kSelf = __FILE__;
    constexpr std::string_view kTail = "vmm/base/log.cc";
    static_assert(kSelf.ends_with(kTail));
    constexpr std::string_view kRoot = kSelf.substr(0, kSelf.size() - kTail.size());
    if (kRoot.starts_with('/') && file.starts_with(kRoot)) {
        file.remove_prefix(kRoot.size());
        return file;
    }
    // A path made relative to the build directory (ccache's base_dir does that).
    for (;;) {
        if (file.starts_with("../")) {
            file.remove_prefix(3);
        } else if (file.starts_with("./")) {
            file.remove_prefix(2);
        } else {
            return file;
        }
    }
}

std::string_view level_name(Level level) {
    switch (level) {
        case Level::kOff: return "OFF";
        case Level::kError: return "ERROR";
        case Level::kWarning: return "WARN";
        case Level::kInfo: return "INFO";
        case Level::kDebug: return "DEBUG";
        case Level::kTrace: return "TRACE";
    }
    return "?";
}

Result<void> configure(const Options& options, const std::string& path, bool create) {
    // glibc opens /etc/localtime on the process's first gmtime_r or timegm (log timestamps, the
    // CMOS clock). Threads under seccomp may not open files: have it read now, while none is.
    ::tzset();
    UniqueFd file;
    if (!path.empty()) {
        // Non-blocking so that a FIFO nobody reads never stalls a thread: lines are dropped (and
        // counted) instead. A FIFO with no reader yet is accepted, as in Firecracker.
        Result<NamedFile> named = open_named_file(
            path, create ? FileAccess::kAppendOrCreate : FileAccess::kAppend,
            FileKinds::kRegularFifoOrCharDevice, IoMode::kNonBlocking, "open log file");
        if (!named && !create && named.error().code().category() == std::system_category()) {
            const std::error_code code = named.error().code();
            return Error::invalid("open log file", fmt::format("{}: {} (os error {})", path,
                                                               code.message(), code.value()));
        }
        if (!named) return named.error();
        file = std::move(named->fd);
    }
    Sink& s = sink();
    std::lock_guard lock(s.mu);
    s.options = options;
    if (!path.empty()) s.file = std::move(file);
    g_level.store(static_cast<uint8_t>(options.level), std::memory_order_relaxed);
    return ok();
}

void set_instance_id(std::string id) {
    Sink& s = sink();
    std::lock_guard lock(s.mu);
    s.instance_id = std::move(id);
}

void set_thread_name(const std::string& name) {
    t_thread_name = name;
    ::prctl(PR_SET_NAME, name.substr(0, 15).c_str());
}

bool enabled(Level level) {
    return level != Level::kOff &&
           static_cast<uint8_t>(level) <= g_level.load(std::memory_order_relaxed);
}

uint64_t missed_lines() { return g_missed.load(std::memory_order_relaxed); }

std::string utc_stamp(int64_t unix_seconds) {
    // By calendar arithmetic, not gmtime_r: glibc reads /etc/localtime on its first use, an
    // openat that the API and vCPU threads' seccomp filters refuse (the process would die on the
    // first line one of them logs).
    using namespace std::chrono;
    const sys_seconds at{seconds{unix_seconds}};
    const sys_days day = floor<days>(at);
    const year_month_day date{day};
    const hh_mm_ss time{at - day};
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", static_cast<int>(date.year()),
                       static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                       time.hours().count(), time.minutes().count(), time.seconds().count());
}

void write(Level level, const char* file, int line, std::string_view message) {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    std::string stamp = utc_stamp(ts.tv_sec);

    Sink& s = sink();
    std::lock_guard lock(s.mu);
    if (!s.options.module.empty() && !from_module(file, s.options.module)) return;
    std::string prefix =
        fmt::format("{}.{:09} [{}:{}", stamp, ts.tv_nsec, s.instance_id, t_thread_name);
    if (s.options.show_level) prefix += fmt::format(":{}", level_name(level));
    if (s.options.show_origin) {
        prefix += fmt::format(":{}:{}", source_path(file), line);
    }
    std::string out = fmt::format("{}] {}\n", prefix, message);
    int fd = s.file ? s.file.get() : STDERR_FILENO;
    if (::write(fd, out.data(), out.size()) != static_cast<ssize_t>(out.size())) {
        g_missed.fetch_add(1, std::memory_order_relaxed);
    }
}

bool LineLimiter::allow(uint64_t& suppressed) {
    auto now = std::chrono::steady_clock::now();
    if (now - window_start_ >= period_) {
        window_start_ = now;
        in_window_ = 0;
    }
    if (in_window_ >= burst_) {
        ++suppressed_;
        return false;
    }
    ++in_window_;
    suppressed = std::exchange(suppressed_, 0);
    return true;
}

}  // namespace ember::log
