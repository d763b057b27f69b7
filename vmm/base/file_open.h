// open_named_file(): the one way Ember opens a path that a client (API) or operator (command
// line, config file) named. It never blocks: a FIFO with no peer, a tty or a device that sleeps
// in open() cannot stall the vmm thread or the CLI. It looks at the file through an O_PATH fd
// first, so a file of the wrong kind (a directory, a character device such as /dev/kmsg, a
// socket, a FIFO where a disk is expected) is refused without ever being opened for I/O, then
// opens it with O_NONBLOCK and checks that the same inode was opened (st_dev, st_ino).
// Called on any thread; the vmm thread's seccomp filter allows what it uses (openat, fstat,
// fcntl F_GETFL/F_SETFL, ftruncate).
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <cstddef>
#include <string>

#include "vmm/base/result.h"
#include "vmm/base/unique_fd.h"

namespace ember {

// What the caller does with the file.
enum class FileAccess {
    kReadOnly,
    kReadWrite,
    kAppendOrCreate,    // Logs, metrics, serial output: O_APPEND, created 0600 if missing.
    kAppend,            // PUT /logger: O_APPEND, never created (as Firecracker's logger).
    kTruncateOrCreate,  // Snapshot files: emptied (or created 0600) once found acceptable.
};

// The kinds of file the caller accepts; anything else is refused before it is opened.
enum class FileKinds {
    kRegular,               // Kernel, initrd, snapshot state and memory files, seccomp filter.
    kRegularOrBlockDevice,  // Drives.
    kRegularOrFifo,         // The config file (a pipe from `<(...)` included).
    // Logs, metrics, serial output: as in Firecracker, also /dev/null or a tty. Opened O_NOCTTY
    // and non-blocking, so a tty neither becomes the controlling terminal nor waits for carrier.
    kRegularFifoOrCharDevice,
};

// The mode of the returned fd. A FIFO opened for writing stays non-blocking whatever is asked:
// that is what lets its writer drop output instead of stalling when nobody reads.
enum class IoMode { kBlocking, kNonBlocking };

struct NamedFile {
    UniqueFd fd;
    struct stat st {};  // Of the opened file (before any truncation).
};

// Opens `path` as `access` if it is of `kinds`. Errors carry `context` (a static string such as
// "open disk") and name the path and the fault: "/x: is a directory, not a regular file or
// block device". A FIFO opened for writing is opened O_RDWR, as Firecracker does, so that a FIFO
// with no reader yet is accepted (its pipe buffer fills, then writes fail with EAGAIN) instead
// of failing with ENXIO or blocking.
Result<NamedFile> open_named_file(const std::string& path, FileAccess access, FileKinds kinds,
                                  IoMode mode, const char* context);

// Reads the whole of `path` (of `kinds`, opened kReadOnly) in time linear in its size, refusing
// more than `max_bytes`. A FIFO (e.g. bash's `--config-file <(...)`) is read without blocking:
// its writer has `fifo_timeout` to connect, write everything and close, else the read fails.
Result<std::string> read_named_file(const std::string& path, FileKinds kinds, size_t max_bytes,
                                    std::chrono::milliseconds fifo_timeout, const char* context);

// "a regular file", "a FIFO", "a directory"...: the kind of `st_mode`, for messages.
const char* file_kind_name(mode_t st_mode);

}  // namespace ember
