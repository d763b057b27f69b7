#include "devices/legacy/vmgenid.h"

#include <sys/random.h>

#include <cerrno>

#include <fmt/core.h>

namespace ember {

Result<VmGenId::Id> random_generation_id() {
    VmGenId::Id id{};
    size_t done = 0;
    while (done < id.size()) {
        // Up to 256 bytes never return short once the pool is ready, but EINTR may still come.
        const ssize_t n = ::getrandom(id.data() + done, id.size() - done, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return Error::from_errno("getrandom");
        }
        done += static_cast<size_t>(n);
    }
    return id;
}

Result<std::unique_ptr<VmGenId>> VmGenId::create(const GuestMemory& mem, GuestAddress id_gpa,
                                                 uint32_t gsi, IrqLine& irq) {
    // The spec asks for an 8-byte aligned ID; a snapshot naming another address is refused.
    if (id_gpa.value() % 8 != 0 || !mem.contains_range(id_gpa, kIdSize)) {
        return Error::invalid("vmgenid", fmt::format("the generation ID at {:#x} is not 16 "
                                                     "8-byte aligned bytes of guest memory",
                                                     id_gpa.value()));
    }
    std::unique_ptr<VmGenId> device(new VmGenId(id_gpa, gsi, irq));
    EMBER_TRY(device->write_new_id(mem));
    return device;
}

Result<void> VmGenId::write_new_id(const GuestMemory& mem) {
    const Id id = EMBER_TRY(random_generation_id());
    EMBER_TRY(mem.write(id_gpa_, id));  // Marks the page dirty for the next diff snapshot.
    id_ = id;
    return ok();
}

Result<void> VmGenId::regenerate_and_notify(const GuestMemory& mem) {
    EMBER_TRY(write_new_id(mem));
    irq_.trigger();
    ++notifications_;
    return ok();
}

}  // namespace ember
