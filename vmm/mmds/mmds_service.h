// MmdsService: the guest side of MMDS, one HTTP request at a time over the bytes of a TCP
// connection: IMDS text or JSON reads of the data store, and v2 session tokens. It answers what
// Firecracker's src/vmm/src/mmds/mod.rs (convert_to_response) answers, byte for byte, with
// micro_http's response layout. Owns the token authority; reads the store it is given.
// Thread: the vmm thread (see Responder).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "vmm/config/vm_config.h"
#include "vmm/mmds/http_request.h"
#include "vmm/mmds/mmds_store.h"
#include "vmm/mmds/responder.h"
#include "vmm/mmds/token_authority.h"

namespace ember::mmds {

// Firecracker's "mmds" metrics that this layer sees (rx_no_token, rx_invalid_token): GET
// requests without a token, and with one that is not valid (counted in V1 too).
struct MmdsServiceCounters {
    uint64_t rx_no_token = 0;
    uint64_t rx_invalid_token = 0;
};

class MmdsService final : public Responder {
public:
    // `store` (and `clock`, when given) must outlive the service.
    MmdsService(const MmdsStore& store, MmdsVersion version, bool imds_compat);
    MmdsService(const MmdsStore& store, MmdsVersion version, bool imds_compat, const Clock* clock);

    std::optional<Reply> respond(std::string_view received, std::string& response) override;

    const MmdsServiceCounters& counters() const { return counters_; }

private:
    struct Answer;
    Answer answer(const HttpRequest& request);
    Answer answer_get(const HttpRequest& request);
    Answer answer_put(const HttpRequest& request);

    const MmdsStore& store_;
    MmdsVersion version_;
    bool imds_compat_;
    TokenAuthority tokens_;
    MmdsServiceCounters counters_;
};

}  // namespace ember::mmds
