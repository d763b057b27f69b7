#include "devices/virtio/net/tap.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstring>

namespace ember::virtio {

Result<Tap> Tap::open(const std::string& if_name) {
    if (if_name.empty() || if_name.size() >= IFNAMSIZ) {
        return Error::invalid("tap", "interface name must be 1 to 15 bytes: " + if_name);
    }
    UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
    if (!fd) return Error::from_errno("open /dev/net/tun");
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, if_name.data(), if_name.size());
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (::ioctl(fd.get(), TUNSETIFF, &ifr) != 0) return Error::from_errno("TUNSETIFF", if_name);
    int header_bytes = kVnetHeaderBytes;
    if (::ioctl(fd.get(), TUNSETVNETHDRSZ, &header_bytes) != 0) {
        return Error::from_errno("TUNSETVNETHDRSZ", if_name);
    }
    return Tap(std::move(fd), if_name, true);
}

Tap Tap::from_fd(UniqueFd fd, std::string name) {
    return Tap(std::move(fd), std::move(name), false);
}

Result<void> Tap::set_offload(unsigned tun_flags) {
    if (!tun_) return ok();
    if (::ioctl(fd_.get(), TUNSETOFFLOAD, tun_flags) != 0) {
        return Error::from_errno("TUNSETOFFLOAD", if_name_);
    }
    return ok();
}

Result<size_t> Tap::read(std::span<const iovec> iov) {
    for (;;) {
        const ssize_t n = ::readv(fd_.get(), iov.data(), static_cast<int>(iov.size()));
        if (n >= 0) return static_cast<size_t>(n);
        if (errno != EINTR) return Error::from_errno("tap read", if_name_);
    }
}

Result<size_t> Tap::write(std::span<const iovec> iov) {
    for (;;) {
        const ssize_t n = ::writev(fd_.get(), iov.data(), static_cast<int>(iov.size()));
        if (n >= 0) return static_cast<size_t>(n);
        if (errno != EINTR) return Error::from_errno("tap write", if_name_);
    }
}

}  // namespace ember::virtio
