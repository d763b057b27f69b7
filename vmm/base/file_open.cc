#include "vmm/base/file_open.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace ember {
namespace {

bool kind_allowed(mode_t st_mode, FileKinds kinds) {
    if (S_ISREG(st_mode)) return true;
    switch (kinds) {
        case FileKinds::kRegular: return false;
        case FileKinds::kRegularOrBlockDevice: return S_ISBLK(st_mode);
        case FileKinds::kRegularOrFifo: return S_ISFIFO(st_mode);
        case FileKinds::kRegularFifoOrCharDevice: return S_ISFIFO(st_mode) || S_ISCHR(st_mode);
    }
    return false;
}

const char* kinds_name(FileKinds kinds) {
    switch (kinds) {
        case FileKinds::kRegular: return "a regular file";
        case FileKinds::kRegularOrBlockDevice: return "a regular file or block device";
        case FileKinds::kRegularOrFifo: return "a regular file or FIFO";
        case FileKinds::kRegularFifoOrCharDevice: return "a regular file, FIFO or character device";
    }
    return "a regular file";
}

bool creates(FileAccess access) {
    return access == FileAccess::kAppendOrCreate || access == FileAccess::kTruncateOrCreate;
}

// The open(2) flags for `access` on a file of `st_mode`, always non-blocking. O_TRUNC is left
// out: truncation waits until the file is known to be the one looked at.
int open_flags(FileAccess access, mode_t st_mode) {
    int flags = O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
    switch (access) {
        case FileAccess::kReadOnly: flags |= O_RDONLY; break;
        case FileAccess::kReadWrite: flags |= O_RDWR; break;
        case FileAccess::kAppendOrCreate:
        case FileAccess::kAppend: flags |= O_WRONLY | O_APPEND; break;
        // Read-write: a memory file on hugetlbfs is written through a shared mapping.
        case FileAccess::kTruncateOrCreate: flags |= O_RDWR; break;
    }
    // A write-only open of a FIFO with no reader fails with ENXIO under O_NONBLOCK (and blocks
    // without it); read-write never does (fifo(7)).
    if (S_ISFIFO(st_mode) && access != FileAccess::kReadOnly) {
        flags = (flags & ~O_ACCMODE) | O_RDWR;
    }
    return flags;
}

Error wrong_kind(const std::string& path, mode_t st_mode, FileKinds kinds, const char* context) {
    return Error::invalid(context, fmt::format("{}: is {}, not {}", path, file_kind_name(st_mode),
                                               kinds_name(kinds)));
}

// A file that did not exist when looked at: created (never truncated, O_CREAT follows a dangling
// symlink as Firecracker's does) or, if one appeared meanwhile, opened without blocking; the
// caller checks its kind from the fd.
Result<UniqueFd> open_missing(const std::string& path, FileAccess access, const char* context) {
    UniqueFd fd(::open(path.c_str(), open_flags(access, S_IFREG) | O_CREAT, 0600));
    if (!fd) return Error::from_errno(context, path);
    return fd;
}

Result<void> wait_readable(int fd, std::chrono::steady_clock::time_point deadline,
                           std::chrono::milliseconds timeout, const std::string& path,
                           const char* context) {
    while (true) {
        auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline -
                                                                 std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            return Error::invalid(context, fmt::format("{}: the FIFO's writer did not finish "
                                                       "within {} ms",
                                                       path, timeout.count()));
        }
        pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
        int ready = ::poll(&p, 1, static_cast<int>(left.count()));
        if (ready > 0) return ok();
        if (ready < 0 && errno != EINTR) return Error::from_errno(context, path);
    }
}

}  // namespace

const char* file_kind_name(mode_t st_mode) {
    if (S_ISREG(st_mode)) return "a regular file";
    if (S_ISDIR(st_mode)) return "a directory";
    if (S_ISFIFO(st_mode)) return "a FIFO";
    if (S_ISCHR(st_mode)) return "a character device";
    if (S_ISBLK(st_mode)) return "a block device";
    if (S_ISSOCK(st_mode)) return "a socket";
    if (S_ISLNK(st_mode)) return "a symbolic link";
    return "a file of unknown type";
}

Result<NamedFile> open_named_file(const std::string& path, FileAccess access, FileKinds kinds,
                                  IoMode mode, const char* context) {
    if (path.empty()) return Error::invalid(context, "the path is empty");
    if (path.find('\0') != std::string::npos) {
        return Error::invalid(context, "the path contains a NUL byte");
    }
    NamedFile out;
    UniqueFd probe(::open(path.c_str(), O_PATH | O_CLOEXEC));
    if (!probe) {
        if (errno != ENOENT || !creates(access)) return Error::from_errno(context, path);
        out.fd = EMBER_TRY(open_missing(path, access, context));
        if (::fstat(out.fd.get(), &out.st) != 0) return Error::from_errno(context, path);
        if (!S_ISREG(out.st.st_mode)) return wrong_kind(path, out.st.st_mode, kinds, context);
    } else {
        struct stat seen {};
        if (::fstat(probe.get(), &seen) != 0) return Error::from_errno(context, path);
        if (!kind_allowed(seen.st_mode, kinds))
            return wrong_kind(path, seen.st_mode, kinds, context);
        out.fd.reset(::open(path.c_str(), open_flags(access, seen.st_mode)));
        if (!out.fd) return Error::from_errno(context, path);
        if (::fstat(out.fd.get(), &out.st) != 0) return Error::from_errno(context, path);
        if (out.st.st_dev != seen.st_dev || out.st.st_ino != seen.st_ino) {
            return Error::invalid(context, path + ": replaced by another file while being opened");
        }
    }
    if (access == FileAccess::kTruncateOrCreate && ::ftruncate(out.fd.get(), 0) != 0) {
        return Error::from_errno(context, path);
    }
    const bool fifo_writer = S_ISFIFO(out.st.st_mode) && access != FileAccess::kReadOnly;
    if (mode == IoMode::kBlocking && !fifo_writer) {
        int flags = ::fcntl(out.fd.get(), F_GETFL);
        if (flags < 0 || ::fcntl(out.fd.get(), F_SETFL, flags & ~O_NONBLOCK) < 0) {
            return Error::from_errno(context, path);
        }
    }
    return out;
}

Result<std::string> read_named_file(const std::string& path, FileKinds kinds, size_t max_bytes,
                                    std::chrono::milliseconds fifo_timeout, const char* context) {
    NamedFile file = EMBER_TRY(
        open_named_file(path, FileAccess::kReadOnly, kinds, IoMode::kNonBlocking, context));
    const bool fifo = S_ISFIFO(file.st.st_mode);
    if (!fifo && static_cast<uint64_t>(file.st.st_size) > max_bytes) {
        return Error::invalid(context, fmt::format("{}: {} bytes, more than the {} allowed", path,
                                                   file.st.st_size, max_bytes));
    }
    const auto deadline = std::chrono::steady_clock::now() + fifo_timeout;
    std::string out;
    out.resize(fifo ? 4096 : static_cast<size_t>(file.st.st_size) + 1);
    size_t done = 0;
    while (done <= max_bytes) {
        // A FIFO with no writer reads as at its end, so poll first: POLLIN once a writer has
        // written, POLLHUP once it has closed, nothing while none has connected yet.
        if (fifo) EMBER_TRY(wait_readable(file.fd.get(), deadline, fifo_timeout, path, context));
        if (done == out.size()) out.resize(std::min(out.size() * 2, max_bytes + 1));
        ssize_t n = ::read(file.fd.get(), out.data() + done, out.size() - done);
        if (n == 0) break;
        if (n > 0) {
            done += static_cast<size_t>(n);
        } else if (errno != EINTR && errno != EAGAIN) {
            return Error::from_errno(context, path);
        }
    }
    if (done > max_bytes) {
        return Error::invalid(context,
                              fmt::format("{}: more than the {} bytes allowed", path, max_bytes));
    }
    out.resize(done);
    return out;
}

}  // namespace ember
