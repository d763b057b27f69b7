#include "vmm/snapshot/uffd_handshake.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <linux/userfaultfd.h>
#include <rapidjson/document.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ember::snapshot {
namespace {

Result<uint64_t> json_u64(const rapidjson::Value& object, const char* name) {
    auto it = object.FindMember(name);
    if (it == object.MemberEnd() || !it->value.IsUint64()) {
        return Error::invalid("uffd handshake JSON",
                              fmt::format("missing or non-integer \"{}\"", name));
    }
    return it->value.GetUint64();
}

// Sorted by the range start `key` picks, neighbouring ranges must not overlap.
template <typename Key>
Result<void> check_disjoint(std::vector<UffdRegion> regions, Key key, const char* what) {
    std::sort(regions.begin(), regions.end(),
              [&](const UffdRegion& a, const UffdRegion& b) { return key(a) < key(b); });
    for (size_t i = 1; i < regions.size(); ++i) {
        if (key(regions[i]) < key(regions[i - 1]) + regions[i - 1].size) {
            return Error::invalid(
                "uffd handshake JSON",
                fmt::format("regions overlap in {}: {:#x}+{:#x} and {:#x}", what,
                            key(regions[i - 1]), regions[i - 1].size, key(regions[i])));
        }
    }
    return ok();
}

}  // namespace

Result<std::vector<UffdRegion>> uffd_regions_of(const GuestMemory& memory,
                                                std::span<const MemoryRegionState> layout) {
    std::vector<UffdRegion> out;
    for (const GuestMemory::Region& r : memory.regions()) {
        const MemoryRegionState* match = nullptr;
        for (const MemoryRegionState& l : layout) {
            if (l.gpa == r.start.value() && l.size_bytes == r.size()) match = &l;
        }
        if (match == nullptr) {
            return Error::invalid("uffd regions",
                                  fmt::format("no file region for gpa {:#x}", r.start.value()));
        }
        // The handler copies whole pages from the file: a region must start on one there too.
        if (match->file_offset % memory.host_page_bytes() != 0) {
            return Error::invalid(
                "uffd regions",
                fmt::format("file offset {:#x} of gpa {:#x} is not a multiple of "
                            "the {}-byte page size",
                            match->file_offset, r.start.value(), memory.host_page_bytes()));
        }
        out.push_back({.base_host_virt_addr = reinterpret_cast<uint64_t>(r.mapping.data()),
                       .size = r.size(),
                       .offset = match->file_offset,
                       .page_size = memory.host_page_bytes()});
    }
    return out;
}

std::string uffd_regions_json(std::span<const UffdRegion> regions) {
    std::string out = "[";
    for (const UffdRegion& r : regions) {
        if (out.size() > 1) out += ",";
        out += fmt::format(
            R"({{"base_host_virt_addr":{},"size":{},"offset":{},"page_size":{},"page_size_kib":{}}})",
            r.base_host_virt_addr, r.size, r.offset, r.page_size, r.page_size);
    }
    return out + "]";
}

Result<std::vector<UffdRegion>> parse_uffd_regions_json(std::string_view json) {
    rapidjson::Document doc;
    // Iterative: a recursive parse of a deeply nested (hostile) handshake would take a stack
    // frame per level.
    doc.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
    if (doc.HasParseError()) return Error::invalid("uffd handshake JSON", "not valid JSON");
    if (!doc.IsArray() || doc.Empty()) {
        return Error::invalid("uffd handshake JSON", "expected a non-empty array of regions");
    }
    if (doc.Size() > kMaxUffdRegions) {
        return Error::invalid("uffd handshake JSON",
                              fmt::format("{} regions, at most {}", doc.Size(), kMaxUffdRegions));
    }
    std::vector<UffdRegion> regions;
    for (const rapidjson::Value& v : doc.GetArray()) {
        if (!v.IsObject()) return Error::invalid("uffd handshake JSON", "region is not an object");
        UffdRegion r;
        r.base_host_virt_addr = EMBER_TRY(json_u64(v, "base_host_virt_addr"));
        r.size = EMBER_TRY(json_u64(v, "size"));
        r.offset = EMBER_TRY(json_u64(v, "offset"));
        // page_size_kib is Firecracker's older name; it too holds bytes.
        r.page_size =
            EMBER_TRY(json_u64(v, v.HasMember("page_size") ? "page_size" : "page_size_kib"));
        bool power_of_two = r.page_size >= 4096 && (r.page_size & (r.page_size - 1)) == 0;
        if (!power_of_two || r.size == 0 || r.size % r.page_size != 0 ||
            r.base_host_virt_addr % r.page_size != 0 || r.offset % r.page_size != 0 ||
            r.base_host_virt_addr + r.size < r.base_host_virt_addr ||
            r.offset + r.size < r.offset) {
            return Error::invalid(
                "uffd handshake JSON",
                fmt::format("bad region: address {:#x} size {:#x} offset {:#x} "
                            "page size {}",
                            r.base_host_virt_addr, r.size, r.offset, r.page_size));
        }
        regions.push_back(r);
    }
    // Overlaps would let two regions claim one fault, and let a short list ask for more
    // bookkeeping than the memory file has pages.
    EMBER_TRY(check_disjoint(
        regions, [](const UffdRegion& r) { return r.base_host_virt_addr; }, "the address space"));
    EMBER_TRY(check_disjoint(
        regions, [](const UffdRegion& r) { return r.offset; }, "the memory file"));
    return regions;
}

Result<UniqueFd> create_userfaultfd() {
    constexpr int kFlags = O_CLOEXEC | O_NONBLOCK;
    UniqueFd uffd;
    UniqueFd dev(::open("/dev/userfaultfd", O_RDWR | O_CLOEXEC));
    if (dev) uffd.reset(::ioctl(dev.get(), USERFAULTFD_IOC_NEW, kFlags));
    if (!uffd) uffd.reset(static_cast<int>(::syscall(SYS_userfaultfd, kFlags)));
    if (!uffd) return Error::from_errno("userfaultfd");
    uffdio_api api{};
    api.api = UFFD_API;
    api.features = UFFD_FEATURE_EVENT_REMOVE;
    if (::ioctl(uffd.get(), UFFDIO_API, &api) < 0) return Error::from_errno("UFFDIO_API");
    return uffd;
}

Result<void> register_userfaultfd(int uffd, std::span<const UffdRegion> regions) {
    for (const UffdRegion& r : regions) {
        uffdio_register reg{};
        reg.range.start = r.base_host_virt_addr;
        reg.range.len = r.size;
        reg.mode = UFFDIO_REGISTER_MODE_MISSING;
        if (::ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
            return Error::from_errno("UFFDIO_REGISTER",
                                     fmt::format("{:#x}+{:#x}", r.base_host_virt_addr, r.size));
        }
        if ((reg.ioctls & (1ull << _UFFDIO_COPY)) == 0) {
            return Error::invalid("UFFDIO_REGISTER", "UFFDIO_COPY not available on guest memory");
        }
    }
    return ok();
}

Result<UniqueFd> send_uffd_handshake(const std::string& socket_path, int uffd,
                                     std::span<const UffdRegion> regions,
                                     std::chrono::milliseconds timeout) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof(addr.sun_path)) {
        return Error::invalid("uffd handler socket path too long", socket_path);
    }
    std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
    UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!sock) return Error::from_errno("socket");
    // A Unix stream connect() waits for room in the listener's backlog for at most the send
    // timeout (unix_stream_connect), and the sends below wait for at most the same.
    timeval tv{.tv_sec = static_cast<time_t>(timeout.count() / 1000),
               .tv_usec = static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    if (::setsockopt(sock.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
        return Error::from_errno("setsockopt SO_SNDTIMEO");
    }
    // SO_SNDTIMEO expiring shows as EAGAIN (EINPROGRESS for connect on some kernels).
    auto failed = [&](const char* step, const char* what) {
        if (errno == EAGAIN || errno == EINPROGRESS) {
            return Error::from_errno(
                ETIMEDOUT, step,
                fmt::format("{}: {} after {} ms", socket_path, what, timeout.count()));
        }
        return Error::from_errno(step, socket_path);
    };
    int rc;
    do {
        rc = ::connect(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) return failed("connect to the uffd handler", "not accepting connections");

    std::string json = uffd_regions_json(regions);
    iovec iov{.iov_base = json.data(), .iov_len = json.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cmsg), &uffd, sizeof(int));
    ssize_t sent;
    do {
        sent = ::sendmsg(sock.get(), &msg, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) return failed("send the uffd handshake", "not reading the handshake");
    // The fd went with the first byte; a stream socket may take the JSON in several pieces.
    for (size_t done = static_cast<size_t>(sent); done < json.size();) {
        ssize_t n = ::send(sock.get(), json.data() + done, json.size() - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return failed("send the uffd handshake", "not reading the handshake");
        done += static_cast<size_t>(n);
    }
    return sock;
}

}  // namespace ember::snapshot
