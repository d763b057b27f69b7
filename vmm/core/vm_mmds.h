// VmMmds: the VM's MMDS. The data store exists from launch, sized by --mmds-size-limit, so that
// --metadata and PUT /mmds work in every phase, as Firecracker's; the service that answers the
// guest is made when the VM is built or restored, from the MMDS configuration, and lives as long
// as the process (the net devices hold a pointer to it).
// Thread: the vmm thread (the guest's requests and the API's both arrive there).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>

#include "vmm/config/vm_config.h"
#include "vmm/mmds/mmds_service.h"
#include "vmm/mmds/mmds_store.h"
#include "vmm/mmds/responder.h"

namespace ember {

class VmMmds {
public:
    explicit VmMmds(size_t size_limit) : store_(size_limit) {}

    mmds::MmdsStore& store() { return store_; }

    // The service for `config`'s version and imds_compat; null when there is no MMDS
    // configuration. Replaces the one made before: call only while no device holds it (when a
    // VM is about to be built; a build that fails drops its devices).
    mmds::Responder* make_service(const std::optional<MmdsConfig>& config);
    // The service's token counts for the "mmds" metrics group; null without a service.
    const mmds::MmdsServiceCounters* service_counters() const {
        return service_ ? &service_->counters() : nullptr;
    }

private:
    mmds::MmdsStore store_;
    std::unique_ptr<mmds::MmdsService> service_;
};

}  // namespace ember
