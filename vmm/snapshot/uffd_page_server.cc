#include "vmm/snapshot/uffd_page_server.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "vmm/snapshot/page_populate.h"

namespace ember::snapshot {
namespace {

// Finds where the top-level JSON value ends as bytes arrive, so that the text is parsed once,
// when complete, however the peer splits it (a parse per piece would be quadratic).
class JsonEnd {
public:
    // True once the value that started in the bytes fed so far is closed.
    bool feed(std::string_view bytes) {
        for (char c : bytes) {
            if (done_) return true;
            if (in_string_) {
                if (escaped_)
                    escaped_ = false;
                else if (c == '\\')
                    escaped_ = true;
                else if (c == '"')
                    in_string_ = false;
            } else if (c == '"') {
                in_string_ = true;
            } else if (c == '[' || c == '{') {
                ++depth_;
            } else if (c == ']' || c == '}') {
                // A close before any open is malformed: end here and let the parser say so.
                done_ = depth_ <= 1;
                if (depth_ > 0) --depth_;
            } else if (depth_ == 0 && c != ' ' && c != '\n' && c != '\t' && c != '\r') {
                done_ = true;  // Not an array: the parser will say so.
            }
        }
        return done_;
    }

private:
    size_t depth_ = 0;
    bool in_string_ = false;
    bool escaped_ = false;
    bool done_ = false;
};

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return static_cast<int>(std::max<int64_t>(0, left.count()));
}

bool all_zero(const uint8_t* data, size_t len) {
    for (size_t i = 0; i < len; i += sizeof(uint64_t)) {
        uint64_t word;
        std::memcpy(&word, data + i, sizeof(word));
        if (word != 0) return false;
    }
    return true;
}

}  // namespace

Result<UniqueFd> listen_unix_socket(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path)) return Error::invalid("socket path too long", path);
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
    UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!sock) return Error::from_errno("socket");
    if (::bind(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) < 0) {
        return Error::from_errno("bind", path);
    }
    if (::listen(sock.get(), 1) < 0) return Error::from_errno("listen", path);
    return sock;
}

Result<UffdHandshake> accept_uffd_handshake(int listen_fd, int timeout_ms) {
    UffdHandshake hs;
    hs.connection.reset(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
    if (!hs.connection) return Error::from_errno("accept");
    ucred cred{};
    socklen_t cred_len = sizeof(cred);
    if (::getsockopt(hs.connection.get(), SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) == 0) {
        hs.peer_pid = cred.pid;
    }

    // One deadline for the whole handshake: a peer trickling bytes cannot hold the handler.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    std::string json;
    std::vector<char> buffer(kMaxUffdHandshakeBytes);
    JsonEnd end;
    bool complete = false;
    while (!complete) {
        if (json.size() >= kMaxUffdHandshakeBytes) {
            return Error::invalid("uffd handshake too large",
                                  fmt::format("over {} bytes", kMaxUffdHandshakeBytes));
        }
        pollfd pfd{.fd = hs.connection.get(), .events = POLLIN, .revents = 0};
        int ready = ::poll(&pfd, 1, remaining_ms(deadline));
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0) return Error::from_errno("poll uffd handshake");
        if (ready == 0) {
            return Error::invalid(
                "uffd handshake timed out",
                fmt::format("incomplete after {} ms ({} bytes)", timeout_ms, json.size()));
        }

        iovec iov{.iov_base = buffer.data(), .iov_len = kMaxUffdHandshakeBytes - json.size()};
        alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))] = {};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof(control);
        ssize_t n = ::recvmsg(hs.connection.get(), &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n < 0) return Error::from_errno("recvmsg uffd handshake");
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
            size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < count; ++i) {
                int fd;
                std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                // The first fd is the userfaultfd; anything more is owned and closed here.
                if (!hs.uffd) {
                    hs.uffd.reset(fd);
                } else {
                    UniqueFd extra(fd);
                }
            }
        }
        if (n == 0) {
            return Error::invalid("uffd handshake",
                                  fmt::format("connection closed after {} bytes", json.size()));
        }
        json.append(buffer.data(), static_cast<size_t>(n));
        complete = end.feed({buffer.data(), static_cast<size_t>(n)});
    }
    hs.regions = EMBER_TRY(parse_uffd_regions_json(json));
    if (!hs.uffd) return Error::invalid("uffd handshake", "no userfaultfd in the message");
    EMBER_TRY(check_userfaultfd(hs.uffd.get()));
    return hs;
}

Result<void> check_userfaultfd(int fd) {
    char link[64] = {};
    std::string path = fmt::format("/proc/self/fd/{}", fd);
    ssize_t len = ::readlink(path.c_str(), link, sizeof(link) - 1);
    if (len >= 0) {
        if (std::string_view(link, static_cast<size_t>(len)) != "anon_inode:[userfaultfd]") {
            return Error::invalid("uffd handshake",
                                  fmt::format("the fd received is not a userfaultfd but {}",
                                              std::string_view(link, static_cast<size_t>(len))));
        }
    } else {
        // No /proc (a chroot): a userfaultfd the sender set up answers a second UFFDIO_API with
        // EINVAL; anything else knows no such ioctl.
        uffdio_api api{.api = UFFD_API, .features = 0, .ioctls = 0};
        if (::ioctl(fd, UFFDIO_API, &api) < 0 && errno != EINVAL) {
            return Error::from_errno("uffd handshake", "the fd received is not a userfaultfd");
        }
    }
    // The server drains the fd until EAGAIN: it must not block.
    int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        return Error::from_errno("uffd handshake: set O_NONBLOCK");
    }
    return ok();
}

PageServer::PageServer(UffdHandshake handshake, MmapRegion file)
    : hs_(std::move(handshake)), file_(std::move(file)) {
    for (const UffdRegion& r : hs_.regions) {
        size_t pages = r.size / r.page_size;
        regions_.push_back({.uffd = r,
                            .removed = std::vector<bool>(pages),
                            .used = std::vector<bool>(pages),
                            .written = std::vector<bool>(pages)});
    }
}

void prefault_working_set(const MemoryFileMapping& file, const WorkingSet& set) {
    const uint64_t page_size = set.page_size;
    auto key_of = [](uint64_t) -> int64_t { return 0; };
    for (const PageRun& run : coalesce_page_runs(set.offsets, page_size, key_of)) {
        // Maps the page-cache pages (reading them from disk if need be). Only an optimization:
        // a page this misses is faulted in by the copy that installs it.
        static_cast<void>(populate_pages(file.map.data() + run.file_offset,
                                         static_cast<size_t>(run.pages * page_size),
                                         static_cast<size_t>(page_size), Populate::kRead));
    }
}

Result<PageServer> PageServer::create(UffdHandshake handshake, MemoryFileMapping file) {
    const uint64_t file_size = file.map.size();
    for (const UffdRegion& r : handshake.regions) {
        if (r.offset > file_size || r.size > file_size - r.offset) {
            return Error::invalid(
                "memory file too short for the regions",
                fmt::format("{}: region at offset {:#x} size {:#x}, file {} bytes", file.path,
                            r.offset, r.size, file_size));
        }
    }
    return PageServer(std::move(handshake), std::move(file.map));
}

PageServer::Region* PageServer::region_of(uint64_t address) {
    for (Region& r : regions_) {
        if (address >= r.uffd.base_host_virt_addr &&
            address - r.uffd.base_host_virt_addr < r.uffd.size) {
            return &r;
        }
    }
    return nullptr;
}

Result<PageServer::Fill> PageServer::fill(Region& region, uint64_t page_addr) {
    const UffdRegion& u = region.uffd;
    uint64_t page = (page_addr - u.base_host_virt_addr) / u.page_size;
    const uint8_t* src = file_.data() + u.offset + (page_addr - u.base_host_virt_addr);
    bool zero = region.removed[page] || all_zero(src, u.page_size);
    int rc;
    if (zero && u.page_size == 4096) {
        uffdio_zeropage z{};
        z.range.start = page_addr;
        z.range.len = u.page_size;
        rc = ::ioctl(hs_.uffd.get(), UFFDIO_ZEROPAGE, &z);
    } else {
        // UFFDIO_ZEROPAGE only handles base pages: larger ones copy from a zero buffer.
        if (zero && zeros_.size() < u.page_size) zeros_.assign(u.page_size, 0);
        uffdio_copy c{};
        c.dst = page_addr;
        c.src = reinterpret_cast<uint64_t>(zero ? zeros_.data() : src);
        c.len = u.page_size;
        rc = ::ioctl(hs_.uffd.get(), UFFDIO_COPY, &c);
    }
    if (rc < 0) {
        switch (errno) {
            case EEXIST: {
                // Already filled (a prefetch raced the fault): make sure the faulting thread runs.
                ++stats_.already_present;
                uffdio_range range{.start = page_addr, .len = u.page_size};
                ::ioctl(hs_.uffd.get(), UFFDIO_WAKE, &range);
                return Fill::kDone;
            }
            case EAGAIN: return Fill::kRetry;
            case ESRCH:
            case ENOENT:
                peer_gone_ = true;  // The address space is gone: the VM has exited.
                return Fill::kDone;
            default: return Error::from_errno(zero ? "UFFDIO_ZEROPAGE" : "UFFDIO_COPY");
        }
    }
    region.removed[page] = false;
    ++(zero ? stats_.zero_pages : stats_.copied_pages);
    return Fill::kDone;
}

Result<void> PageServer::on_fault(uint64_t address, bool write) {
    ++stats_.faults;
    Region* region = region_of(address);
    if (region == nullptr) {
        return Error::invalid("page fault outside every region", fmt::format("{:#x}", address));
    }
    const UffdRegion& u = region->uffd;
    uint64_t page_addr = address & ~(u.page_size - 1);
    uint64_t page = (page_addr - u.base_host_virt_addr) / u.page_size;
    // A page faulting after the guest gave it back is served zeros, not the file: not recorded.
    if (!region->removed[page]) {
        if (!region->used[page]) region->written[page] = write;
        region->used[page] = true;
    }
    if (EMBER_TRY(fill(*region, page_addr)) == Fill::kRetry) deferred_.push_back(page_addr);
    return ok();
}

void PageServer::on_remove(uint64_t start, uint64_t end) {
    ++stats_.remove_events;
    for (Region& r : regions_) {
        uint64_t base = r.uffd.base_host_virt_addr;
        uint64_t lo = std::max(start, base);
        uint64_t hi = std::min(end, base + r.uffd.size);
        for (uint64_t a = lo; a < hi; a += r.uffd.page_size) {
            r.removed[(a - base) / r.uffd.page_size] = true;
        }
    }
}

Result<void> PageServer::drain_events() {
    uffd_msg msgs[16];
    while (!peer_gone_) {
        ssize_t n = ::read(hs_.uffd.get(), msgs, sizeof(msgs));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return ok();
        if (n < 0) return Error::from_errno("read userfaultfd");
        if (n == 0) return ok();
        for (size_t i = 0; i < static_cast<size_t>(n) / sizeof(uffd_msg); ++i) {
            const uffd_msg& m = msgs[i];
            if (m.event == UFFD_EVENT_PAGEFAULT) {
                EMBER_TRY(on_fault(m.arg.pagefault.address,
                                   (m.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE) != 0));
            } else if (m.event == UFFD_EVENT_REMOVE) {
                on_remove(m.arg.remove.start, m.arg.remove.end);
            }
        }
    }
    return ok();
}

Result<void> PageServer::retry_deferred() {
    std::vector<uint64_t> pending = std::move(deferred_);
    deferred_.clear();
    for (uint64_t page_addr : pending) {
        Region* region = region_of(page_addr);
        if (region != nullptr && EMBER_TRY(fill(*region, page_addr)) == Fill::kRetry) {
            deferred_.push_back(page_addr);
        }
    }
    return ok();
}

Result<ServeEnd> PageServer::serve(int stop_fd) {
    while (!peer_gone_) {
        pollfd fds[3] = {
            {.fd = hs_.uffd.get(), .events = POLLIN, .revents = 0},
            {.fd = hs_.connection.get(), .events = POLLIN | POLLRDHUP, .revents = 0},
            {.fd = stop_fd, .events = POLLIN, .revents = 0},  // Ignored by poll when -1.
        };
        int ready = ::poll(fds, 3, deferred_.empty() ? -1 : 0);
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0) return Error::from_errno("poll");
        if (fds[0].revents & POLLIN) EMBER_TRY(drain_events());
        if (fds[0].revents & (POLLERR | POLLNVAL))
            return Error::invalid("userfaultfd", "poll error");
        if (fds[1].revents & (POLLHUP | POLLRDHUP | POLLERR)) return ServeEnd::kVmGone;
        if (fds[1].revents & POLLIN) {
            char byte;
            if (::recv(hs_.connection.get(), &byte, 1, MSG_DONTWAIT) == 0) return ServeEnd::kVmGone;
        }
        if (fds[2].revents & POLLIN) return ServeEnd::kStopRequested;
        if (!deferred_.empty()) EMBER_TRY(retry_deferred());
    }
    return ServeEnd::kVmGone;
}

Result<InstallStats> PageServer::install(const WorkingSet& set, const std::string& path) {
    InstallStats st;
    const auto t0 = std::chrono::steady_clock::now();
    const uint64_t page_size = regions_.front().uffd.page_size;
    for (const Region& r : regions_) {
        if (r.uffd.page_size != page_size) {
            return Error::invalid("working-set record", "the regions have different page sizes");
        }
    }
    // The handler checked the contents before it listened: only the page size is left to check
    // against the handshake's.
    if (set.page_size != page_size) {
        return Error::invalid("working-set record",
                              fmt::format("{} has {}-byte pages, the VM's memory has {}-byte pages",
                                          path, set.page_size, page_size));
    }
    std::span<const uint8_t> file(file_.data(), file_.size());

    // A run's key is its region (ranges checked disjoint in the file at the handshake) and whether
    // it is zero. UFFDIO_ZEROPAGE fills only base pages: larger zero pages are copied as data.
    const bool zero_fill = page_size == 4096;
    auto key_of = [&](uint64_t offset) -> int64_t {
        for (size_t i = 0; i < regions_.size(); ++i) {
            const UffdRegion& u = regions_[i].uffd;
            if (offset >= u.offset && offset - u.offset < u.size) {
                bool zero = zero_fill && all_zero(file.data() + offset, page_size);
                return static_cast<int64_t>(2 * i + (zero ? 1 : 0));
            }
        }
        return -1;
    };
    // The record's written pages stay written in the next record: once installed, a write to them
    // no longer faults.
    for (uint64_t offset : set.written) {
        for (Region& r : regions_) {
            if (offset >= r.uffd.offset && offset - r.uffd.offset < r.uffd.size) {
                r.written[(offset - r.uffd.offset) / page_size] = true;
            }
        }
    }
    for (const PageRun& run : coalesce_page_runs(set.offsets, page_size, key_of)) {
        if (peer_gone_) break;
        // A vCPU waiting on a page the batch has not reached yet is served first, between runs:
        // the guest's order is not the file's, and it should not wait for the whole batch.
        EMBER_TRY(drain_events());
        bool zero = run.key % 2 == 1;
        EMBER_TRY(install_run(regions_[static_cast<size_t>(run.key / 2)], run.file_offset,
                              run.pages, zero));
        st.pages += run.pages;
        ++st.runs;
        if (zero) ++st.zero_runs;
    }
    st.install_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return st;
}

Result<void> PageServer::install_run(Region& region, uint64_t offset, uint64_t pages, bool zero) {
    const UffdRegion& u = region.uffd;
    const uint64_t page_size = u.page_size;
    uint64_t done = 0;
    while (done < pages && !peer_gone_) {
        const uint64_t file_offset = offset + done * page_size;
        const uint64_t first = (file_offset - u.offset) / page_size;
        const uint64_t addr = u.base_host_virt_addr + first * page_size;
        const uint64_t len = (pages - done) * page_size;
        int64_t progressed = 0;
        int rc;
        if (zero) {
            uffdio_zeropage z{};
            z.range = {.start = addr, .len = len};
            rc = ::ioctl(hs_.uffd.get(), UFFDIO_ZEROPAGE, &z);
            progressed = z.zeropage;
        } else {
            uffdio_copy c{};
            c.dst = addr;
            c.src = reinterpret_cast<uint64_t>(file_.data() + file_offset);
            c.len = len;
            rc = ::ioctl(hs_.uffd.get(), UFFDIO_COPY, &c);
            progressed = c.copy;
        }
        const int err = rc < 0 ? errno : 0;
        // On failure the kernel reports the bytes done before it (or a negative errno).
        const uint64_t moved =
            rc == 0 ? pages - done
                    : static_cast<uint64_t>(std::max<int64_t>(progressed, 0)) / page_size;
        for (uint64_t p = first; p < first + moved; ++p) region.used[p] = true;
        (zero ? stats_.zero_pages : stats_.copied_pages) += moved;
        stats_.prefetched_pages += moved;
        done += moved;
        if (rc == 0) break;
        switch (err) {
            case EEXIST: {
                // This page is present already (a fault beat the batch): wake whoever waits on it.
                uffdio_range range{.start = addr + moved * page_size, .len = page_size};
                ::ioctl(hs_.uffd.get(), UFFDIO_WAKE, &range);
                region.used[first + moved] = true;
                ++stats_.already_present;
                ++done;
                break;
            }
            case EAGAIN:
            case EINTR:
                if (moved == 0) {
                    // The mappings are changing: leave the rest to the fault path's retries.
                    for (uint64_t p = done; p < pages; ++p) {
                        deferred_.push_back(addr + (p - done) * page_size);
                    }
                    return ok();
                }
                break;
            case ESRCH:
            case ENOENT: peer_gone_ = true; return ok();
            default: return Error::from_errno(zero ? "UFFDIO_ZEROPAGE" : "UFFDIO_COPY");
        }
    }
    return ok();
}

Result<WorkingSet> PageServer::working_set() const {
    const uint64_t page_size = regions_.front().uffd.page_size;
    std::vector<uint64_t> offsets;
    std::vector<uint64_t> written;
    for (const Region& r : regions_) {
        for (size_t p = 0; p < r.used.size(); ++p) {
            if (!r.used[p]) continue;
            offsets.push_back(r.uffd.offset + p * r.uffd.page_size);
            if (r.written[p]) written.push_back(offsets.back());
        }
    }
    return make_working_set({file_.data(), file_.size()}, std::move(offsets), page_size,
                            std::move(written));
}

}  // namespace ember::snapshot
