// The handler side of the userfaultfd memory backend, used by ember-uffd-handler: accept ember's
// handshake, then serve its missing-page faults from the snapshot's memory file with UFFDIO_COPY
// (UFFDIO_ZEROPAGE for all-zero pages), zero pages the guest gave back (UFFD_EVENT_REMOVE), record
// which pages faulted and prefetch a recorded working set. Thread: the handler's only thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "vmm/base/mmap_region.h"
#include "vmm/base/result.h"
#include "vmm/base/unique_fd.h"
#include "vmm/snapshot/uffd_handshake.h"

namespace ember::snapshot {

struct UffdHandshake {
    UniqueFd uffd;
    UniqueFd connection;  // Closes when the VM's process ends: the signal to stop serving.
    std::vector<UffdRegion> regions;
    pid_t peer_pid = 0;
};

// Bounds the --prefetch file (about 12 bytes a page offset: some 5 million pages, 20 GiB of
// 4 KiB pages).
inline constexpr uint64_t kMaxPageOffsetsFileBytes = 64ull << 20;

// A listening Unix stream socket at `path`; a stale socket file there is replaced.
Result<UniqueFd> listen_unix_socket(const std::string& path);
// Accepts one connection and reads the fd and the regions (at most kMaxUffdHandshakeBytes of
// JSON, parsed once complete), waiting at most `timeout_ms` in all after the accept. Refuses an fd
// that is not a userfaultfd, and makes it non-blocking.
Result<UffdHandshake> accept_uffd_handshake(int listen_fd, int timeout_ms = 10000);
// Whether `fd` is a userfaultfd (its /proc/self/fd link, or an ioctl probe without /proc); sets
// O_NONBLOCK on it.
Result<void> check_userfaultfd(int fd);

// File offsets of pages, one per line (decimal or 0x-hex), as --record writes them. The file
// must be a regular file of at most kMaxPageOffsetsFileBytes.
Result<std::vector<uint64_t>> read_page_offsets(const std::string& path);

struct PageServerStats {
    uint64_t faults = 0;
    uint64_t copied_pages = 0;
    uint64_t zero_pages = 0;
    uint64_t prefetched_pages = 0;
    uint64_t remove_events = 0;
    uint64_t already_present = 0;  // Filled by a prefetch between the fault and its service.
};

class PageServer {
public:
    // `record` (may be invalid) receives the file offset of each page the first time it faults.
    static Result<PageServer> create(UffdHandshake handshake, const std::string& memory_file,
                                     UniqueFd record);

    // Pages to copy in ahead of faults, a batch at a time, whenever no fault is waiting.
    void queue_prefetch(std::vector<uint64_t> file_offsets);
    // Serves until the VM's connection closes or its address space is gone.
    Result<void> serve();

    const PageServerStats& stats() const { return stats_; }

private:
    struct Region {
        UffdRegion uffd;
        std::vector<bool> removed;   // Given back with MADV_DONTNEED: serve zeros, not the file.
        std::vector<bool> recorded;  // Already written to the record file.
    };
    enum class Fill { kDone, kRetry };

    PageServer(UffdHandshake handshake, MmapRegion file, UniqueFd record);
    Result<void> drain_events();
    Result<void> on_fault(uint64_t address);
    void on_remove(uint64_t start, uint64_t end);
    Result<Fill> fill(Region& region, uint64_t page_addr);
    Result<void> prefetch_batch();
    Result<void> retry_deferred();
    Region* region_of(uint64_t address);

    UffdHandshake hs_;
    MmapRegion file_;  // The memory file, MAP_PRIVATE read-only.
    UniqueFd record_;
    std::vector<Region> regions_;
    std::vector<uint64_t> prefetch_;
    size_t prefetch_next_ = 0;
    std::vector<uint64_t> deferred_;  // Faults that met EAGAIN (a concurrent mapping change).
    std::vector<uint8_t> zeros_;      // A zero page for page sizes UFFDIO_ZEROPAGE cannot fill.
    PageServerStats stats_;
    bool peer_gone_ = false;
};

}  // namespace ember::snapshot
