// Test helpers for the MMDS stack: a guest that builds Ethernet/ARP/IPv4/TCP frames byte by byte
// and decodes the stack's answers, independently of the stack's own parsers and writers, and a
// fake mmds::Responder.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/mmds/responder.h"

namespace ember::testing {

using Bytes = std::vector<uint8_t>;

inline constexpr std::array<uint8_t, 6> kGuestMac{0x06, 0, 0xac, 0x10, 0, 2};
inline constexpr std::array<uint8_t, 4> kGuestIp{172, 16, 0, 2};
inline constexpr std::array<uint8_t, 4> kMmdsIp{169, 254, 169, 254};
inline constexpr std::array<uint8_t, 6> kMmdsMac{0x06, 0x01, 0x23, 0x45, 0x67, 0x01};

inline void put16(Bytes& b, size_t at, uint16_t v) {
    b[at] = static_cast<uint8_t>(v >> 8);
    b[at + 1] = static_cast<uint8_t>(v);
}
inline void put32(Bytes& b, size_t at, uint32_t v) {
    put16(b, at, static_cast<uint16_t>(v >> 16));
    put16(b, at + 2, static_cast<uint16_t>(v));
}
inline uint16_t get16(const Bytes& b, size_t at) {
    return static_cast<uint16_t>((b[at] << 8) | b[at + 1]);
}
inline uint32_t get32(const Bytes& b, size_t at) {
    return (uint32_t{get16(b, at)} << 16) | get16(b, at + 2);
}
// RFC 1071 over b[from, to), plus `extra`.
inline uint16_t inet_checksum(const Bytes& b, size_t from, size_t to, uint32_t extra = 0) {
    uint32_t sum = extra;
    for (size_t i = from; i < to; i += 2) {
        sum += static_cast<uint32_t>(b[i] << 8) | (i + 1 < to ? b[i + 1] : 0);
    }
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

inline Bytes arp_request(const std::array<uint8_t, 4>& target = kMmdsIp, uint16_t op = 1) {
    Bytes f(42);
    std::fill_n(f.begin(), 6, 0xff);
    std::copy(kGuestMac.begin(), kGuestMac.end(), f.begin() + 6);
    put16(f, 12, 0x0806);
    put16(f, 14, 1);
    put16(f, 16, 0x0800);
    f[18] = 6;
    f[19] = 4;
    put16(f, 20, op);
    std::copy(kGuestMac.begin(), kGuestMac.end(), f.begin() + 22);
    std::copy(kGuestIp.begin(), kGuestIp.end(), f.begin() + 28);
    std::copy(target.begin(), target.end(), f.begin() + 38);
    return f;
}

struct TcpOut {
    uint16_t src_port = 40000;
    uint16_t dst_port = 80;
    uint32_t seq = 0;
    uint32_t ack = 0;
    uint8_t flags = 0;
    uint16_t window = 65535;
    std::optional<uint16_t> mss;
    std::string payload;
    uint8_t protocol = 6;
    std::array<uint8_t, 4> dst = kMmdsIp;
};

inline constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;

inline Bytes tcp_frame(const TcpOut& s) {
    const size_t tcp_header = s.mss ? 24 : 20;
    const size_t ip_len = 20 + tcp_header + s.payload.size();
    Bytes f(14 + ip_len);
    std::copy(kMmdsMac.begin(), kMmdsMac.end(), f.begin());
    std::copy(kGuestMac.begin(), kGuestMac.end(), f.begin() + 6);
    put16(f, 12, 0x0800);
    f[14] = 0x45;
    put16(f, 16, static_cast<uint16_t>(ip_len));
    put16(f, 20, 0x4000);
    f[22] = 64;
    f[23] = s.protocol;
    std::copy(kGuestIp.begin(), kGuestIp.end(), f.begin() + 26);
    std::copy(s.dst.begin(), s.dst.end(), f.begin() + 30);
    put16(f, 24, inet_checksum(f, 14, 34));
    const size_t t = 34;
    put16(f, t, s.src_port);
    put16(f, t + 2, s.dst_port);
    put32(f, t + 4, s.seq);
    put32(f, t + 8, s.ack);
    f[t + 12] = static_cast<uint8_t>((tcp_header / 4) << 4);
    f[t + 13] = s.flags;
    put16(f, t + 14, s.window);
    if (s.mss) {
        f[t + 20] = 2;
        f[t + 21] = 4;
        put16(f, t + 22, *s.mss);
    }
    std::copy(s.payload.begin(), s.payload.end(), f.begin() + static_cast<long>(t + tcp_header));
    return f;
}

// A TCP segment the stack sent, decoded; checksums checked.
struct TcpIn {
    uint16_t src_port = 0, dst_port = 0;
    uint32_t seq = 0, ack = 0;
    uint8_t flags = 0;
    uint16_t window = 0;
    std::optional<uint16_t> mss;
    std::string payload;
    bool has(uint8_t f) const { return (flags & f) != 0; }
};

inline std::optional<TcpIn> decode_tcp(const Bytes& f) {
    if (f.size() < 54 || get16(f, 12) != 0x0800) return std::nullopt;
    EXPECT_TRUE(std::equal(kGuestMac.begin(), kGuestMac.end(), f.begin()));
    EXPECT_TRUE(std::equal(kMmdsMac.begin(), kMmdsMac.end(), f.begin() + 6));
    EXPECT_EQ(f[14], 0x45);
    EXPECT_EQ(inet_checksum(f, 14, 34), 0) << "IPv4 header checksum";
    const size_t ip_len = get16(f, 16);
    EXPECT_EQ(ip_len + 14, f.size());
    EXPECT_TRUE(std::equal(kGuestIp.begin(), kGuestIp.end(), f.begin() + 30));
    const size_t t = 34;
    const size_t tcp_len = ip_len - 20;
    const uint32_t pseudo = get16(f, 26) + get16(f, 28) + get16(f, 30) + get16(f, 32) + 6 +
                            static_cast<uint32_t>(tcp_len);
    EXPECT_EQ(inet_checksum(f, t, f.size(), pseudo), 0) << "TCP checksum";
    TcpIn s;
    s.src_port = get16(f, t);
    s.dst_port = get16(f, t + 2);
    s.seq = get32(f, t + 4);
    s.ack = get32(f, t + 8);
    const size_t header = size_t{static_cast<uint8_t>(f[t + 12] >> 4)} * 4;
    s.flags = f[t + 13];
    s.window = get16(f, t + 14);
    if (header == 24 && f[t + 20] == 2) s.mss = get16(f, t + 22);
    s.payload.assign(f.begin() + static_cast<long>(t + header), f.end());
    return s;
}

// Answers a request once it holds "\r\n\r\n" with `body_bytes` of body; a request that says
// "close" closes the connection. Counts its calls.
class FakeResponder final : public mmds::Responder {
public:
    std::optional<mmds::Reply> respond(std::string_view received, std::string& response) override {
        ++calls;
        const size_t end = received.find("\r\n\r\n");
        if (end == std::string_view::npos) return std::nullopt;
        const std::string body = body_for(received.substr(0, end));
        response +=
            "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
        requests.emplace_back(received.substr(0, end + 4));
        const bool close = received.substr(0, end).find("close") != std::string_view::npos;
        return mmds::Reply{end + 4, close};
    }
    std::string body_for(std::string_view) const {
        std::string body(body_bytes, 'x');
        for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
        return body;
    }

    size_t body_bytes = 5;
    size_t calls = 0;
    std::vector<std::string> requests;
};

}  // namespace ember::testing
