// The handler side of the userfaultfd memory backend, used by ember-uffd-handler: accept ember's
// handshake, then serve its missing-page faults from the snapshot's memory file with UFFDIO_COPY
// (UFFDIO_ZEROPAGE for all-zero pages), zero pages the guest gave back (UFFD_EVENT_REMOVE), install
// a recorded working set in one batch before serving, and tell which pages the VM used (the next
// record). Thread: the handler's only thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "vmm/base/mmap_region.h"
#include "vmm/base/result.h"
#include "vmm/base/unique_fd.h"
#include "vmm/snapshot/uffd_handshake.h"
#include "vmm/snapshot/working_set.h"

namespace ember::snapshot {

struct UffdHandshake {
    UniqueFd uffd;
    UniqueFd connection;  // Closes when the VM's process ends: the signal to stop serving.
    std::vector<UffdRegion> regions;
    pid_t peer_pid = 0;
};

// A listening Unix stream socket at `path`; a stale socket file there is replaced.
Result<UniqueFd> listen_unix_socket(const std::string& path);
// Accepts one connection and reads the fd and the regions (at most kMaxUffdHandshakeBytes of
// JSON, parsed once complete), waiting at most `timeout_ms` in all after the accept. Refuses an fd
// that is not a userfaultfd, and makes it non-blocking.
Result<UffdHandshake> accept_uffd_handshake(int listen_fd, int timeout_ms = 10000);
// Whether `fd` is a userfaultfd (its /proc/self/fd link, or an ioctl probe without /proc); sets
// O_NONBLOCK on it.
Result<void> check_userfaultfd(int fd);

// Maps the pages of `set` into `file` now, one madvise(MADV_POPULATE_READ) per run, so that
// installing them after the handshake copies without taking a page fault per source page (under
// nested virtualization, each one costs tens of microseconds on the load's critical path).
void prefault_working_set(const MemoryFileMapping& file, const WorkingSet& set);

struct PageServerStats {
    uint64_t faults = 0;
    uint64_t copied_pages = 0;
    uint64_t zero_pages = 0;
    uint64_t prefetched_pages = 0;  // Installed from the working set.
    uint64_t remove_events = 0;
    uint64_t already_present = 0;  // Present when filled (a racing fault): only woken.
};

// What installing a working set did.
struct InstallStats {
    uint64_t pages = 0;
    uint64_t runs = 0;
    uint64_t zero_runs = 0;
    double install_ms = 0;  // The ioctls, the memory file's reads included.
};

// How serve() ended.
enum class ServeEnd { kVmGone, kStopRequested };

class PageServer {
public:
    // Refuses regions that the memory file does not hold.
    static Result<PageServer> create(UffdHandshake handshake, MemoryFileMapping file);

    // Checks `set` (whose contents the handler checked against the memory file before it
    // listened) against the handshake's page size (path names it in errors), then installs all its
    // pages in one batch before serving lazily: adjacent pages of one region coalesced into runs,
    // one UFFDIO_COPY per run (UFFDIO_ZEROPAGE for runs of zero 4 KiB pages). Faults that arrive
    // meanwhile are served between runs, ahead of the batch. Pages the record names outside every
    // region are left out.
    Result<InstallStats> install(const WorkingSet& set, const std::string& path);
    // Serves until the VM's connection closes or its address space is gone, or until `stop_fd`
    // (a signalfd; -1 for none) is readable.
    Result<ServeEnd> serve(int stop_fd = -1);
    // The pages the VM faulted on or that were installed for it: the next working-set record,
    // with the pages first faulted by a write (or marked written in the installed record) flagged.
    // A page first read and later written is not flagged: once installed, its write does not fault.
    Result<WorkingSet> working_set() const;

    const PageServerStats& stats() const { return stats_; }

private:
    struct Region {
        UffdRegion uffd;
        std::vector<bool> removed;  // Given back with MADV_DONTNEED: serve zeros, not the file.
        std::vector<bool> used;     // Faulted or installed: part of the working set.
        std::vector<bool> written;  // Its first fault was a write (or the record said so).
    };
    enum class Fill { kDone, kRetry };

    PageServer(UffdHandshake handshake, MmapRegion file);
    Result<void> drain_events();
    Result<void> on_fault(uint64_t address, bool write);
    void on_remove(uint64_t start, uint64_t end);
    Result<Fill> fill(Region& region, uint64_t page_addr);
    // Installs `pages` pages of `region` from file offset `offset`, one ioctl for the run unless
    // some page is already present.
    Result<void> install_run(Region& region, uint64_t offset, uint64_t pages, bool zero);
    Result<void> retry_deferred();
    Region* region_of(uint64_t address);

    UffdHandshake hs_;
    MmapRegion file_;  // The memory file, MAP_PRIVATE read-only.
    std::vector<Region> regions_;
    std::vector<uint64_t> deferred_;  // Faults that met EAGAIN (a concurrent mapping change).
    std::vector<uint8_t> zeros_;      // A zero page for page sizes UFFDIO_ZEROPAGE cannot fill.
    PageServerStats stats_;
    bool peer_gone_ = false;
};

}  // namespace ember::snapshot
