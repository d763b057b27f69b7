#include "vmm/core/vm_mmds.h"

namespace ember {

mmds::Responder* VmMmds::make_service(const std::optional<MmdsConfig>& config) {
    service_.reset();
    if (!config) return nullptr;
    service_ = std::make_unique<mmds::MmdsService>(store_, config->version, config->imds_compat);
    return service_.get();
}

}  // namespace ember
