// libFuzzer target: bytes of one API connection -> RequestParser -> Router (with a fake VMM).
// The first byte picks the read size, so requests split across reads are covered too.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/http/request_parser.h"
#include "api/router.h"
#include "tests/fakes/fake_vmm_controller.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const size_t chunk = (data[0] % 64) + 1;
    std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

    ember::testing::FakeVmmController fake;
    if (data[0] & 0x80) fake.fail_with(ember::Error::invalid("phase", "wrong phase"));
    ember::api::Router router(fake);
    ember::api::RequestParser parser(
        ember::api::RequestLimits{.max_header_bytes = 1024, .max_body_bytes = 4096});
    std::string pending;
    for (size_t pos = 0; pos < input.size(); pos += chunk) {
        pending.append(input.substr(pos, chunk));
        for (;;) {
            size_t consumed = 0;
            auto status = parser.feed(pending, consumed);
            if (consumed > pending.size()) std::abort();
            pending.erase(0, consumed);
            if (status == ember::api::RequestParser::Status::kError) {
                if (parser.error().status != 400 && parser.error().status != 413) std::abort();
                return 0;
            }
            if (status == ember::api::RequestParser::Status::kNeedMore) break;
            ember::api::HttpRequest request = parser.take_request();
            ember::api::HttpResponse response = router.handle(request);
            if (response.status != 200 && response.status != 204 && response.status != 400) {
                std::abort();
            }
            (void)ember::api::serialize(response, parser.keep_alive());
        }
    }
    return 0;
}
