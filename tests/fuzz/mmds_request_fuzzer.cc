// libFuzzer target: the bytes a guest sends on one MMDS connection -> MmdsService::respond, as
// the TCP stack drives it (a buffer that grows, answered requests taken off the front). The
// first byte picks the segment size and the MMDS version/imds_compat, so split requests, both
// versions and the token flow are all covered. Aborts if a reply consumes more than it got, if
// a response is not one HTTP message, or if a complete window goes unanswered.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "vmm/mmds/mmds_service.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using ember::mmds::MmdsService;
    using ember::mmds::MmdsStore;
    if (size == 0) return 0;
    const size_t chunk = (data[0] % 32) * 16 + 1;
    const auto version = (data[0] & 0x40) ? ember::MmdsVersion::kV2 : ember::MmdsVersion::kV1;
    const bool imds_compat = (data[0] & 0x80) != 0;
    std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

    MmdsStore store;
    if (!store.put(R"({"latest": {"meta-data": {"ami-id": "ami-1", "n": 5, "a": ["x", 1],
        "o": {"k": "v"}}}, "s": "t"})")) {
        std::abort();
    }
    MmdsService service(store, version, imds_compat);
    std::string pending;
    for (size_t pos = 0; pos < input.size(); pos += chunk) {
        pending.append(input.substr(pos, chunk));
        for (;;) {
            std::string response;
            auto reply = service.respond(pending, response);
            if (!reply) {
                if (!response.empty() || pending.size() >= MmdsService::kMaxRequestBytes) {
                    std::abort();
                }
                break;
            }
            if (reply->consumed == 0 || reply->consumed > pending.size()) std::abort();
            if (response.rfind("HTTP/1.", 0) != 0 ||
                response.find("\r\n\r\n") == std::string::npos) {
                std::abort();
            }
            pending.erase(0, reply->consumed);
            if (reply->close) return 0;
        }
    }
    return 0;
}
