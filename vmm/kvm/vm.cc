#include "vmm/kvm/vm.h"

#include <sys/ioctl.h>

#include <cstring>

namespace ember::kvm {

Result<Vm> Vm::create(const Kvm& kvm) {
    int fd = ::ioctl(kvm.fd(), KVM_CREATE_VM, 0);
    if (fd < 0) return Error::from_errno("KVM_CREATE_VM");
    return Vm(UniqueFd(fd), kvm.vcpu_mmap_size());
}

Result<void> Vm::set_tss_addr(uint64_t addr) {
    if (::ioctl(fd_.get(), KVM_SET_TSS_ADDR, static_cast<unsigned long>(addr)) < 0) {
        return Error::from_errno("KVM_SET_TSS_ADDR");
    }
    return ok();
}

Result<void> Vm::set_identity_map_addr(uint64_t addr) {
    __u64 value = addr;
    if (::ioctl(fd_.get(), KVM_SET_IDENTITY_MAP_ADDR, &value) < 0) {
        return Error::from_errno("KVM_SET_IDENTITY_MAP_ADDR");
    }
    return ok();
}

Result<void> Vm::create_irq_chip() {
    if (::ioctl(fd_.get(), KVM_CREATE_IRQCHIP, 0) < 0)
        return Error::from_errno("KVM_CREATE_IRQCHIP");
    return ok();
}

Result<void> Vm::create_pit2() {
    kvm_pit_config config{};
    config.flags = KVM_PIT_SPEAKER_DUMMY;
    if (::ioctl(fd_.get(), KVM_CREATE_PIT2, &config) < 0)
        return Error::from_errno("KVM_CREATE_PIT2");
    return ok();
}

Result<void> Vm::register_memory(const GuestMemory& mem, bool log_dirty_pages) {
    const uint32_t flags = log_dirty_pages ? KVM_MEM_LOG_DIRTY_PAGES : 0;
    for (const GuestMemory::Region& region : mem.regions()) {
        EMBER_TRY(set_user_memory_region(next_slot_, region.start, region.size(),
                                         region.mapping.data(), flags));
        ++next_slot_;
    }
    return ok();
}

Result<void> Vm::set_user_memory_region(uint32_t slot, GuestAddress gpa, uint64_t size_bytes,
                                        uint8_t* hva, uint32_t flags) {
    kvm_userspace_memory_region region{};
    region.slot = slot;
    region.flags = flags;
    region.guest_phys_addr = gpa.value();
    region.memory_size = size_bytes;
    region.userspace_addr = reinterpret_cast<uint64_t>(hva);
    if (::ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &region) < 0) {
        return Error::from_errno("KVM_SET_USER_MEMORY_REGION");
    }
    return ok();
}

Result<void> Vm::register_irqfd(const EventFd& evt, uint32_t gsi) {
    kvm_irqfd irqfd{};
    irqfd.fd = static_cast<__u32>(evt.fd());
    irqfd.gsi = gsi;
    if (::ioctl(fd_.get(), KVM_IRQFD, &irqfd) < 0) return Error::from_errno("KVM_IRQFD");
    return ok();
}

Result<void> Vm::register_ioeventfd(const EventFd& evt, AddressSpace space, uint64_t addr,
                                    uint32_t len, std::optional<uint64_t> datamatch) {
    kvm_ioeventfd io{};
    io.addr = addr;
    io.len = len;
    io.fd = evt.fd();
    if (space == AddressSpace::kPio) io.flags |= KVM_IOEVENTFD_FLAG_PIO;
    if (datamatch) {
        io.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
        io.datamatch = *datamatch;
    }
    if (::ioctl(fd_.get(), KVM_IOEVENTFD, &io) < 0) return Error::from_errno("KVM_IOEVENTFD");
    return ok();
}

Result<kvm_clock_data> Vm::clock() const {
    kvm_clock_data data{};
    if (::ioctl(fd_.get(), KVM_GET_CLOCK, &data) < 0) return Error::from_errno("KVM_GET_CLOCK");
    return data;
}

Result<void> Vm::set_clock(const kvm_clock_data& data) {
    kvm_clock_data copy = data;
    // KVM refuses flags it did not hand out on SET; only the realtime pairing may stay.
    copy.flags &= KVM_CLOCK_REALTIME;
    if (::ioctl(fd_.get(), KVM_SET_CLOCK, &copy) < 0) return Error::from_errno("KVM_SET_CLOCK");
    return ok();
}

}  // namespace ember::kvm
