// mmds::Responder: what the guest-side network stack (devices/virtio/net/mmds) hands the bytes
// of one TCP connection to. The MMDS service implements it over the data store; the stack knows
// nothing of HTTP beyond this call, the service nothing of frames.
// Thread: the vmm thread, with the net device's transport lock held.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ember::mmds {

struct Reply {
    size_t consumed = 0;  // Request bytes the response answers (taken off the connection).
    bool close = false;   // Close the connection after sending the response.
};

class Responder {
public:
    // The most request bytes a connection may buffer before a complete request; the stack resets
    // a connection that sends more without the responder answering.
    static constexpr size_t kMaxRequestBytes = 8192;

    virtual ~Responder() = default;
    // `received`: the bytes the guest sent on one connection and not yet consumed. Returns
    // nothing while no complete request is there; else appends one response to `response`.
    // A malformed request is answered (400) and consumed, never left to wait.
    virtual std::optional<Reply> respond(std::string_view received, std::string& response) = 0;
};

}  // namespace ember::mmds
