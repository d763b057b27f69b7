// The ember side of Firecracker's userfaultfd memory backend: create a userfaultfd, register the
// guest RAM regions with it, and hand it to the page-fault handler listening on a Unix socket in
// ONE message carrying the fd (SCM_RIGHTS) and a JSON array of regions
// (persist.rs send_uffd_handshake; docs/snapshotting/handling-page-faults-on-snapshot-resume.md).
// Thread: the vmm thread, while loading a snapshot.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/base/unique_fd.h"
#include "vmm/memory/guest_memory.h"
#include "vmm/snapshot/machine_state.h"

namespace ember::snapshot {

// Bounds on the handshake, checked by the handler: the JSON text (the fd rides with its first
// byte) and the number of regions in it. Ember sends one region per guest RAM region (two at most
// on x86_64), about 110 bytes each.
inline constexpr size_t kMaxUffdHandshakeBytes = size_t{64} * 1024;
inline constexpr size_t kMaxUffdRegions = 256;

// Firecracker's GuestRegionUffdMapping.
struct UffdRegion {
    uint64_t base_host_virt_addr = 0;
    uint64_t size = 0;
    uint64_t offset = 0;  // In the memory file.
    uint64_t page_size = 4096;
    bool operator==(const UffdRegion&) const = default;
};

// The regions of `memory` (anonymous mappings made for the restore) and their file offsets, which
// come from the state file's region table, matched by guest address. page_size is the memory's
// host page size: 2 MiB for hugetlb memory, which the handler must fill a whole page at a time.
Result<std::vector<UffdRegion>> uffd_regions_of(const GuestMemory& memory,
                                                std::span<const MemoryRegionState> layout);

// `[{"base_host_virt_addr":..,"size":..,"offset":..,"page_size":..,"page_size_kib":..}]`;
// page_size_kib repeats page_size (in bytes, as Firecracker, for handlers that read the old name).
std::string uffd_regions_json(std::span<const UffdRegion> regions);
// Accepts page_size or, from older senders, only page_size_kib. Checks the count (at most
// kMaxUffdRegions), alignment, that no range wraps around, and that the regions overlap neither
// in the address space nor in the memory file.
Result<std::vector<UffdRegion>> parse_uffd_regions_json(std::string_view json);

// A non-blocking, close-on-exec userfaultfd with UFFD_FEATURE_EVENT_REMOVE, from /dev/userfaultfd
// when it exists (Linux 6.1+), else the userfaultfd(2) syscall.
Result<UniqueFd> create_userfaultfd();
// UFFDIO_REGISTER in missing-page mode for every region.
Result<void> register_userfaultfd(int uffd, std::span<const UffdRegion> regions);
// How long connecting to the handler and sending the handshake may take. Both block only when the
// handler does not accept (its listen backlog is full) or does not read: the load then fails
// instead of holding the vmm thread (and every API request behind it) forever. Firecracker
// waits without a limit.
inline constexpr std::chrono::milliseconds kUffdHandshakeTimeout{5'000};

// Connects to the handler at `socket_path` and sends the handshake, within `timeout`. Returns the
// connection: keep it open for as long as the memory lives; the handler takes its closing as the
// end of the VM.
Result<UniqueFd> send_uffd_handshake(const std::string& socket_path, int uffd,
                                     std::span<const UffdRegion> regions,
                                     std::chrono::milliseconds timeout = kUffdHandshakeTimeout);

}  // namespace ember::snapshot
