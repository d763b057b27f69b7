// A real TAP interface: frames written to the tap reach the host stack and frames sent on the
// interface come out of the tap with a virtio-net header. Needs CAP_NET_ADMIN (CI runs as root).
#include "devices/virtio/net/tap.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace ember::virtio {
namespace {

constexpr uint16_t kEtherType = 0x88b5;  // IEEE local experimental.

std::vector<uint8_t> ethernet_frame(uint8_t marker) {
    std::vector<uint8_t> f(60, 0);
    std::memset(f.data(), 0xff, 6);  // Broadcast destination.
    const uint8_t src[6] = {0x02, 0, 0, 0, 0, marker};
    std::memcpy(f.data() + 6, src, 6);
    f[12] = kEtherType >> 8;
    f[13] = kEtherType & 0xff;
    for (size_t i = 14; i < f.size(); ++i) f[i] = static_cast<uint8_t>(marker + i);
    return f;
}

class TapTest : public ::testing::Test {
protected:
    void SetUp() override {
        name_ = "embtap" + std::to_string(::getpid() % 100000);
        auto tap = Tap::open(name_);
        ASSERT_TRUE(tap.has_value()) << tap.error().message();
        tap_.emplace(std::move(*tap));
        ASSERT_EQ(std::system(("ip link set dev " + name_ + " up").c_str()), 0);
        packet_.reset(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(kEtherType)));
        ASSERT_TRUE(packet_.valid());
        sockaddr_ll addr{};
        addr.sll_family = AF_PACKET;
        addr.sll_protocol = htons(kEtherType);
        addr.sll_ifindex = static_cast<int>(::if_nametoindex(name_.c_str()));
        ASSERT_GT(addr.sll_ifindex, 0);
        ASSERT_EQ(::bind(packet_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    }

    std::string name_;
    std::optional<Tap> tap_;
    UniqueFd packet_;
};

TEST_F(TapTest, OpensNonBlockingWithVnetHeaderAndOffloads) {
    EXPECT_TRUE(tap_->is_tun_device());
    EXPECT_EQ(tap_->if_name(), name_);
    uint8_t buf[2048];
    const iovec iov{buf, sizeof(buf)};
    // Drain whatever the kernel sent on bring-up; then the read must fail with EAGAIN.
    Result<size_t> r = tap_->read({&iov, 1});
    while (r) r = tap_->read({&iov, 1});
    EXPECT_EQ(r.error().code(), std::errc::resource_unavailable_try_again);
    EXPECT_TRUE(tap_->set_offload(0x01 | 0x02 | 0x04 | 0x10).has_value());
}

TEST_F(TapTest, RefusesAnOverlongInterfaceName) {
    EXPECT_FALSE(Tap::open("a-name-longer-than-15").has_value());
}

TEST_F(TapTest, FrameWrittenToTheTapReachesTheInterface) {
    const auto f = ethernet_frame(0x11);
    uint8_t header[Tap::kVnetHeaderBytes] = {};
    const iovec iov[2] = {{header, sizeof(header)}, {const_cast<uint8_t*>(f.data()), f.size()}};
    auto n = tap_->write(iov);
    ASSERT_TRUE(n.has_value()) << n.error().message();
    EXPECT_EQ(*n, sizeof(header) + f.size());

    pollfd pfd{packet_.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&pfd, 1, 2000), 1);
    std::vector<uint8_t> got(2048);
    const ssize_t len = ::recv(packet_.get(), got.data(), got.size(), 0);
    ASSERT_GT(len, 0);
    got.resize(static_cast<size_t>(len));
    EXPECT_EQ(got, f);
}

TEST_F(TapTest, FrameSentOnTheInterfaceComesOutOfTheTapWithAHeader) {
    const auto f = ethernet_frame(0x22);
    ASSERT_EQ(::send(packet_.get(), f.data(), f.size(), 0), static_cast<ssize_t>(f.size()));
    std::vector<uint8_t> buf(2048);
    const iovec iov{buf.data(), buf.size()};
    // The kernel may also send IPv6 neighbour discovery on the new link: skip other frames.
    for (int attempt = 0; attempt < 50; ++attempt) {
        pollfd pfd{tap_->fd(), POLLIN, 0};
        ASSERT_EQ(::poll(&pfd, 1, 2000), 1);
        auto n = tap_->read({&iov, 1});
        ASSERT_TRUE(n.has_value());
        if (*n < Tap::kVnetHeaderBytes + 14 ||
            buf[Tap::kVnetHeaderBytes + 12] != (kEtherType >> 8)) {
            continue;
        }
        std::vector<uint8_t> frame_out(buf.begin() + Tap::kVnetHeaderBytes,
                                       buf.begin() + static_cast<long>(*n));
        EXPECT_EQ(frame_out, f);
        return;
    }
    FAIL() << "frame never came out of the tap";
}

}  // namespace
}  // namespace ember::virtio
