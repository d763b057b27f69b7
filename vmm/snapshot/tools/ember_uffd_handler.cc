// ember-uffd-handler: serves the guest memory of one VM restored with the Uffd backend.
// Listens on --socket, accepts ember's handshake (the userfaultfd and the region list), then fills
// each page on its first touch from --mem-file, until the VM's process ends. A page is what the
// handshake's page_size says: 4 KiB, or 2 MiB for a 2M VM's hugetlb memory, copied whole. --record
// FILE writes the file offsets of the pages that faulted; --prefetch FILE copies those pages in
// right after the handshake (a recorded working set), ahead of the faults. Every input is bounded:
// the handshake (kMaxUffdHandshakeBytes, kMaxUffdRegions, 10 s), the regions (disjoint, inside
// the memory file), the --prefetch file (kMaxPageOffsetsFileBytes); files must be regular files.
#include <fcntl.h>
#include <getopt.h>
#include <sys/stat.h>

#include <cstdio>
#include <string>

#include "vmm/snapshot/uffd_page_server.h"

namespace {

constexpr const char* kUsage = R"(Usage: ember-uffd-handler --socket PATH --mem-file PATH [OPTIONS]
  --socket PATH     Unix socket to listen on (ember's mem_backend.backend_path)
  --mem-file PATH   The snapshot's memory file
  --record PATH     Append the file offset of every page that faults to PATH
  --prefetch PATH   Copy in the pages listed in PATH (as --record writes them) before they fault
)";

struct Options {
    std::string socket;
    std::string mem_file;
    std::string record;
    std::string prefetch;
};

int fail(const char* step, const ember::Error& error) {
    std::fprintf(stderr, "ember-uffd-handler: %s: %s\n", step, error.message().c_str());
    return 1;
}

int run(const Options& opt) {
    using namespace ember;
    using namespace ember::snapshot;
    std::vector<uint64_t> prefetch;
    if (!opt.prefetch.empty()) {
        Result<std::vector<uint64_t>> offsets = read_page_offsets(opt.prefetch);
        if (!offsets) return fail("--prefetch", offsets.error());
        prefetch = std::move(*offsets);
    }
    UniqueFd record;
    if (!opt.record.empty()) {
        // O_NONBLOCK: a FIFO in its place fails (or opens) at once instead of blocking here.
        record.reset(::open(opt.record.c_str(),
                            O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC,
                            0600));
        if (!record) return fail("--record", Error::from_errno("open", opt.record));
        struct stat st {};
        if (::fstat(record.get(), &st) < 0 || !S_ISREG(st.st_mode)) {
            return fail("--record", Error::invalid("not a regular file", opt.record));
        }
        int flags = ::fcntl(record.get(), F_GETFL);
        if (flags < 0 || ::fcntl(record.get(), F_SETFL, flags & ~O_NONBLOCK) < 0) {
            return fail("--record", Error::from_errno("fcntl", opt.record));
        }
    }
    Result<UniqueFd> listener = listen_unix_socket(opt.socket);
    if (!listener) return fail("listen", listener.error());
    Result<UffdHandshake> handshake = accept_uffd_handshake(listener->get());
    if (!handshake) return fail("handshake", handshake.error());
    pid_t peer = handshake->peer_pid;
    size_t region_count = handshake->regions.size();
    Result<PageServer> server =
        PageServer::create(std::move(*handshake), opt.mem_file, std::move(record));
    if (!server) return fail("memory file", server.error());
    std::fprintf(stderr, "ember-uffd-handler: serving %zu regions of pid %d from %s\n",
                 region_count, static_cast<int>(peer), opt.mem_file.c_str());
    server->queue_prefetch(std::move(prefetch));
    Result<void> served = server->serve();
    const PageServerStats& s = server->stats();
    std::fprintf(stderr,
                 "ember-uffd-handler: faults=%llu copied=%llu zero=%llu prefetched=%llu "
                 "removes=%llu already_present=%llu\n",
                 static_cast<unsigned long long>(s.faults),
                 static_cast<unsigned long long>(s.copied_pages),
                 static_cast<unsigned long long>(s.zero_pages),
                 static_cast<unsigned long long>(s.prefetched_pages),
                 static_cast<unsigned long long>(s.remove_events),
                 static_cast<unsigned long long>(s.already_present));
    if (!served) return fail("serve", served.error());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    static const option kOptions[] = {
        {"socket", required_argument, nullptr, 's'}, {"mem-file", required_argument, nullptr, 'm'},
        {"record", required_argument, nullptr, 'r'}, {"prefetch", required_argument, nullptr, 'p'},
        {"help", no_argument, nullptr, 'h'},         {nullptr, 0, nullptr, 0},
    };
    Options opt;
    int c;
    while ((c = getopt_long(argc, argv, "", kOptions, nullptr)) != -1) {
        switch (c) {
            case 's': opt.socket = optarg; break;
            case 'm': opt.mem_file = optarg; break;
            case 'r': opt.record = optarg; break;
            case 'p': opt.prefetch = optarg; break;
            case 'h': std::fputs(kUsage, stdout); return 0;
            default: std::fputs(kUsage, stderr); return 2;
        }
    }
    if (opt.socket.empty() || opt.mem_file.empty() || optind < argc) {
        std::fputs(kUsage, stderr);
        return 2;
    }
    return run(opt);
}
