// Vm: one KVM virtual machine fd. Memory slots, the in-kernel irqchip and PIT, irqfds and
// ioeventfds. Thread: the vmm thread (setup); irqfd/ioeventfd registration is also vmm-thread.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <optional>

#include "vmm/base/event_fd.h"
#include "vmm/base/result.h"
#include "vmm/base/unique_fd.h"
#include "vmm/kvm/kvm.h"
#include "vmm/memory/guest_address.h"
#include "vmm/memory/guest_memory.h"

namespace ember::kvm {

// Where KVM puts its three-page TSS and the EPT identity map: just below the BIOS area at the top
// of the 32-bit space, as Firecracker (arch/x86_64/layout.rs).
inline constexpr uint64_t kTssAddress = 0xfffbd000;
inline constexpr uint64_t kIdentityMapAddress = 0xfffbc000;

class Vm {
public:
    static Result<Vm> create(const Kvm& kvm);

    Result<void> set_tss_addr(uint64_t addr);
    Result<void> set_identity_map_addr(uint64_t addr);
    // In-kernel PIC, IOAPIC and LAPICs. Must precede vCPU creation.
    Result<void> create_irq_chip();
    // In-kernel PIT with the speaker port as a dummy (KVM_PIT_SPEAKER_DUMMY).
    Result<void> create_pit2();
    // Maps every region of `mem` as consecutive slots from 0 (region i is slot i), with
    // KVM_MEM_LOG_DIRTY_PAGES when `log_dirty_pages` (diff snapshots).
    Result<void> register_memory(const GuestMemory& mem, bool log_dirty_pages = false);
    Result<void> set_user_memory_region(uint32_t slot, GuestAddress gpa, uint64_t size_bytes,
                                        uint8_t* hva, uint32_t flags = 0);
    // Writes to `evt` inject an edge on `gsi`.
    Result<void> register_irqfd(const EventFd& evt, uint32_t gsi);
    // Guest writes of `len` bytes at `addr` (MMIO, or a port when `space` is kPio) signal `evt`
    // without leaving the kernel, optionally only when the value equals `datamatch`.
    enum class AddressSpace { kMmio, kPio };
    Result<void> register_ioeventfd(const EventFd& evt, AddressSpace space, uint64_t addr,
                                    uint32_t len, std::optional<uint64_t> datamatch);
    Result<kvm_clock_data> clock() const;
    Result<void> set_clock(const kvm_clock_data& data);

    int fd() const { return fd_.get(); }
    size_t vcpu_mmap_size() const { return vcpu_mmap_size_; }

private:
    Vm(UniqueFd fd, size_t vcpu_mmap_size) : fd_(std::move(fd)), vcpu_mmap_size_(vcpu_mmap_size) {}

    UniqueFd fd_;
    size_t vcpu_mmap_size_ = 0;
    uint32_t next_slot_ = 0;
};

}  // namespace ember::kvm
