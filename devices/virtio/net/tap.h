// Tap: an owned TAP interface fd opened as Firecracker does (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR,
// a 12-byte virtio_net_hdr_v1 on every frame, non-blocking, close-on-exec). A Tap can also wrap
// any datagram fd (a socketpair end in tests); offloads are then not configurable.
// Thread: the vmm thread.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <string>

#include "vmm/base/result.h"
#include "vmm/base/unique_fd.h"

namespace ember::virtio {

class Tap {
public:
    static constexpr int kVnetHeaderBytes = 12;

    // Attaches to (or creates) the TAP interface `if_name` (at most IFNAMSIZ - 1 bytes).
    static Result<Tap> open(const std::string& if_name);
    // A frame-preserving fd standing in for a TAP device.
    static Tap from_fd(UniqueFd fd, std::string name);

    // TUNSETOFFLOAD with TUN_F_* flags: which offloaded frames the tap may hand us.
    Result<void> set_offload(unsigned tun_flags);
    // One frame per call; an error with EAGAIN when none is waiting.
    Result<size_t> read(std::span<const iovec> iov);
    Result<size_t> write(std::span<const iovec> iov);

    int fd() const { return fd_.get(); }
    const std::string& if_name() const { return if_name_; }
    bool is_tun_device() const { return tun_; }

private:
    Tap(UniqueFd fd, std::string name, bool tun)
        : fd_(std::move(fd)), if_name_(std::move(name)), tun_(tun) {}

    UniqueFd fd_;
    std::string if_name_;
    bool tun_;
};

}  // namespace ember::virtio
