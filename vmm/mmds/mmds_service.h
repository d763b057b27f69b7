// TEMP: the MmdsService declaration as agreed with the mmds-lib helper; dropped on merge.
#pragma once

#include "vmm/config/vm_config.h"
#include "vmm/mmds/mmds_store.h"
#include "vmm/mmds/responder.h"

namespace ember::mmds {

class MmdsService : public Responder {
public:
    MmdsService(const MmdsStore& store, MmdsVersion version, bool imds_compat)
        : store_(store), version_(version), imds_compat_(imds_compat) {}
    std::optional<Reply> respond(std::string_view received, std::string& response) override;

    MmdsVersion version() const { return version_; }
    bool imds_compat() const { return imds_compat_; }

private:
    const MmdsStore& store_;
    MmdsVersion version_;
    bool imds_compat_;
};

}  // namespace ember::mmds
