// libFuzzer target: arbitrary frame sequences into the MMDS stack with a fake responder. Whatever
// the guest sends, the stack must not crash, and its connections, pending RSTs, buffers and the
// frames one drain produces must stay within the bounds mmds_stack.h states.
// Input: a sequence of records, each an op byte then (for frames) a 2-byte length and the bytes:
//   op & 7 == 0  a raw Ethernet frame
//   op & 7 == 1  a TCP segment (header and payload) to MMDS port 80 from guest port
//                40000 + ((op >> 3) & 3), wrapped in valid Ethernet and IPv4 headers so that
//                mutations reach the TCP state machine; with op & 0x80 the fuzzer also sets the
//                sequence and acknowledgment numbers to continue that port's conversation
//   op & 7 == 2  an ARP request for the MMDS address
//   op & 7 == 3  the clock moves by (op >> 3) * 100 ms (RTO, eviction)
//   otherwise    the guest ACKs everything the stack last sent on each port, with window op << 8
// After each record the stack's output is drained as the device would.
// Run: mmds_frame_fuzzer -max_len=16384 -max_total_time=60 tests/fuzz/corpus/mmds_frame
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "devices/virtio/net/mmds/mmds_stack.h"

namespace {

using namespace ember;
using virtio::mmds_net::MmdsStack;
using virtio::mmds_net::TcpConnection;

constexpr std::array<uint8_t, 4> kMmdsIp{169, 254, 169, 254};
constexpr std::array<uint8_t, 4> kGuestIp{10, 0, 0, 2};

class FuzzClock final : public Clock {
public:
    uint64_t now_ns() const override { return now_; }
    uint64_t now_ = 1'000'000'000;
};

// Answers at a blank line with a body whose size the request picks (the byte after "GET "),
// up to a little over the response bound, so that both the windowing and the RST path run.
class FuzzResponder final : public mmds::Responder {
public:
    std::optional<mmds::Reply> respond(std::string_view received, std::string& response) override {
        const size_t end = received.find("\r\n\r\n");
        if (end == std::string_view::npos) return std::nullopt;
        const size_t scale = received.size() > 4 ? static_cast<uint8_t>(received[4]) : 0;
        const size_t body = scale * (TcpConnection::kMaxResponseBytes / 250);
        response.append("HTTP/1.1 200 OK\r\n\r\n");
        response.append(body, 'x');
        return mmds::Reply{end + 4, received.find("close") < end};
    }
};

void put16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
    put16(p, static_cast<uint16_t>(v >> 16));
    put16(p + 2, static_cast<uint16_t>(v));
}
uint32_t get32(const uint8_t* p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

std::vector<uint8_t> ipv4_frame(std::span<const uint8_t> tcp) {
    std::vector<uint8_t> f(34 + tcp.size());
    put16(&f[12], 0x0800);
    f[14] = 0x45;
    put16(&f[16], static_cast<uint16_t>(20 + tcp.size()));
    f[22] = 64;
    f[23] = 6;
    std::copy(kGuestIp.begin(), kGuestIp.end(), f.begin() + 26);
    std::copy(kMmdsIp.begin(), kMmdsIp.end(), f.begin() + 30);
    uint32_t sum = 0;
    for (size_t i = 14; i < 34; i += 2) sum += static_cast<uint32_t>((f[i] << 8) | f[i + 1]);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    put16(&f[24], static_cast<uint16_t>(~sum));
    std::copy(tcp.begin(), tcp.end(), f.begin() + 34);
    return f;
}

struct Fuzz {
    FuzzClock clock;
    FuzzResponder responder;
    MmdsStack stack{kMmdsIp, responder, clock, 1500};
    // Per guest port slot: the end of what the stack last sent, and the guest's next sequence.
    std::array<uint32_t, 4> last_sent{};
    std::array<uint32_t, 4> guest_next{};
    std::vector<uint8_t> out = std::vector<uint8_t>(2048);

    void check() const {
        if (stack.connection_count() > MmdsStack::kMaxConnections) std::abort();
        if (stack.pending_resets() > MmdsStack::kMaxPendingResets) std::abort();
        if (stack.max_buffered_bytes() >
            std::max(TcpConnection::kMaxRequestBytes, TcpConnection::kMaxResponseBytes)) {
            std::abort();
        }
    }
    void drain() {
        // Per connection at most a 64 KiB window in 48-byte segments plus SYN-ACK, FIN, ACK and
        // RST; plus every pending RST and one ARP reply.
        constexpr size_t kBound =
            MmdsStack::kMaxConnections * (65535 / 48 + 5) + MmdsStack::kMaxPendingResets + 1;
        for (size_t i = 0; i <= kBound; ++i) {
            const size_t n = stack.write_next_frame(out);
            if (n == 0) return;
            if (n > out.size()) std::abort();
            if (n >= 54 && out[12] == 0x08 && out[13] == 0x00) {
                const size_t slot = static_cast<size_t>(((out[36] << 8) | out[37]) - 40000);
                const size_t header = size_t{static_cast<uint8_t>(out[46] >> 4)} * 4;
                if (slot < last_sent.size() && n >= 34 + header) {
                    last_sent[slot] = get32(&out[38]) + static_cast<uint32_t>(n - 34 - header) +
                                      ((out[47] & 0x03) ? 1 : 0);
                }
            }
        }
        std::abort();  // The stack kept producing frames past its bound.
    }
    void ack_all(uint16_t window) {
        for (size_t slot = 0; slot < last_sent.size(); ++slot) {
            std::array<uint8_t, 20> tcp{};
            put16(&tcp[0], static_cast<uint16_t>(40000 + slot));
            put16(&tcp[2], MmdsStack::kPort);
            put32(&tcp[4], guest_next[slot]);
            put32(&tcp[8], last_sent[slot]);
            tcp[12] = 0x50;
            tcp[13] = 0x10;
            put16(&tcp[14], window);
            stack.receive_frame(ipv4_frame(tcp));
        }
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Fuzz fuzz;
    size_t i = 0;
    while (i < size) {
        const uint8_t op = data[i++];
        switch (op & 7) {
            case 0:
            case 1: {
                if (size - i < 2) return 0;
                const size_t len =
                    std::min<size_t>((size_t{data[i]} << 8) | data[i + 1], size - i - 2);
                const std::span<const uint8_t> bytes(data + i + 2, len);
                i += 2 + len;
                if ((op & 7) == 0) {
                    if (MmdsStack::is_mmds_frame(bytes, kMmdsIp)) fuzz.stack.receive_frame(bytes);
                } else {
                    std::vector<uint8_t> tcp(bytes.begin(), bytes.end());
                    const size_t slot = (op >> 3) & 3;
                    if (tcp.size() >= 4) {
                        put16(&tcp[0], static_cast<uint16_t>(40000 + slot));
                        put16(&tcp[2], MmdsStack::kPort);
                    }
                    if ((op & 0x80) && tcp.size() >= 20) {
                        const size_t header =
                            std::max<size_t>(20, size_t{uint8_t(tcp[12] >> 4)} * 4);
                        const size_t payload = tcp.size() > header ? tcp.size() - header : 0;
                        put32(&tcp[4], fuzz.guest_next[slot]);
                        put32(&tcp[8], fuzz.last_sent[slot]);
                        fuzz.guest_next[slot] +=
                            static_cast<uint32_t>(payload) + ((tcp[13] & 0x03) ? 1 : 0);
                    }
                    fuzz.stack.receive_frame(ipv4_frame(tcp));
                }
                break;
            }
            case 2: {
                std::vector<uint8_t> f(42);
                put16(&f[12], 0x0806);
                put16(&f[14], 1);
                put16(&f[16], 0x0800);
                f[18] = 6;
                f[19] = 4;
                put16(&f[20], 1);
                std::copy(kGuestIp.begin(), kGuestIp.end(), f.begin() + 28);
                std::copy(kMmdsIp.begin(), kMmdsIp.end(), f.begin() + 38);
                fuzz.stack.receive_frame(f);
                break;
            }
            case 3: fuzz.clock.now_ += static_cast<uint64_t>(op >> 3) * 100'000'000; break;
            default: fuzz.ack_all(static_cast<uint16_t>(op << 8)); break;
        }
        fuzz.check();
        fuzz.drain();
        fuzz.check();
    }
    return 0;
}
