// TEMP: answers every complete request 501; dropped on merge (mmds-lib has the real service).
#include "vmm/mmds/mmds_service.h"

namespace ember::mmds {

std::optional<Reply> MmdsService::respond(std::string_view received, std::string& response) {
    size_t end = received.find("\r\n\r\n");
    if (end == std::string_view::npos) return std::nullopt;
    (void)store_;
    response += "HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\n\r\n";
    return Reply{.consumed = end + 4, .close = true};
}

}  // namespace ember::mmds
