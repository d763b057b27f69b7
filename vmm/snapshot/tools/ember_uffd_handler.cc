// ember-uffd-handler: serves the guest memory of one VM restored with the Uffd backend.
// Listens on --socket, accepts ember's handshake (the userfaultfd and the region list), then fills
// each page on its first touch from --mem-file, until the VM's process ends. A page is what the
// handshake's page_size says: 4 KiB, or 2 MiB for a 2M VM's hugetlb memory, copied whole.
// --record FILE writes the working set (the pages the VM faulted on, those first faulted by a
// write marked) as a working-set record (working_set.h), which also serves File-backend clones
// (mem_backend.working_set_path) when the VM's process ends or the handler gets SIGTERM or SIGINT;
// --prefetch FILE checks such a record against the memory file and installs its pages in one batch
// right after the handshake, before serving any fault (REAP's idea). The old text format of
// --record (one offset per line) is no longer read. Every input is bounded: the handshake
// (kMaxUffdHandshakeBytes, kMaxUffdRegions, 10 s), the regions (disjoint, inside the memory
// file), the record (kMaxWorkingSetFileBytes); files must be regular files.
#include <getopt.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "vmm/snapshot/uffd_page_server.h"

namespace {

constexpr const char* kUsage = R"(Usage: ember-uffd-handler --socket PATH --mem-file PATH [OPTIONS]
  --socket PATH     Unix socket to listen on (ember's mem_backend.backend_path)
  --mem-file PATH   The snapshot's memory file
  --record PATH     When the VM ends (or on SIGTERM/SIGINT), write the pages it used to PATH
                    (a working-set record, replaced atomically; also what a File-backend load
                    takes as mem_backend.working_set_path)
  --prefetch PATH   Install the pages of the working-set record PATH right after the handshake,
                    before serving faults; refused if recorded from another memory file
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

// The record path must be free or a regular file: checked before serving, so that a FIFO or
// device there fails the start instead of the write at the end.
ember::Result<void> check_record_path(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
        return ember::Error::invalid("not a regular file", path);
    }
    return ember::ok();
}

// SIGTERM and SIGINT, blocked and readable on a signalfd, so that the serving loop ends
// cleanly and writes the record (the platform often kills a first invocation's VM).
ember::Result<ember::UniqueFd> stop_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (::sigprocmask(SIG_BLOCK, &set, nullptr) < 0) return ember::Error::from_errno("sigprocmask");
    ember::UniqueFd fd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!fd) return ember::Error::from_errno("signalfd");
    return fd;
}

int run(const Options& opt) {
    using namespace ember;
    using namespace ember::snapshot;
    Result<MemoryFileMapping> memory = map_memory_file_readonly(opt.mem_file);
    if (!memory) return fail("memory file", memory.error());
    WorkingSet prefetch;
    if (!opt.prefetch.empty()) {
        Result<WorkingSet> set = read_working_set(opt.prefetch);
        if (!set) return fail("--prefetch", set.error());
        // Before listening: a record of another memory file fails the handler before ember
        // connects, so the load fails at once rather than with faults nobody serves. The
        // fingerprint's pages are the record's, which the install reads anyway.
        std::span<const uint8_t> bytes(memory->map.data(), memory->map.size());
        Result<void> matches = check_working_set(*set, bytes, set->page_size, opt.prefetch);
        if (!matches) return fail("--prefetch", matches.error());
        prefetch = std::move(*set);
        // The handler starts ahead of the load: reading the working set now takes that work
        // off the path from the load request to the guest's first answer.
        const auto t0 = std::chrono::steady_clock::now();
        prefault_working_set(*memory, prefetch);
        std::fprintf(
            stderr, "ember-uffd-handler: working set of %zu pages read ahead in %.1f ms\n",
            prefetch.offsets.size(),
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count());
    }
    if (!opt.record.empty()) {
        Result<void> checked = check_record_path(opt.record);
        if (!checked) return fail("--record", checked.error());
    }
    Result<UniqueFd> listener = listen_unix_socket(opt.socket);
    if (!listener) return fail("listen", listener.error());
    // Until the handshake, SIGTERM ends the handler at once: there is nothing to record yet.
    Result<UffdHandshake> handshake = accept_uffd_handshake(listener->get());
    if (!handshake) return fail("handshake", handshake.error());
    Result<UniqueFd> stop = stop_signals();
    if (!stop) return fail("signals", stop.error());
    pid_t peer = handshake->peer_pid;
    size_t region_count = handshake->regions.size();
    Result<PageServer> server = PageServer::create(std::move(*handshake), std::move(*memory));
    if (!server) return fail("memory file", server.error());
    std::fprintf(stderr, "ember-uffd-handler: serving %zu regions of pid %d from %s\n",
                 region_count, static_cast<int>(peer), opt.mem_file.c_str());
    if (!opt.prefetch.empty()) {
        Result<InstallStats> installed = server->install(prefetch, opt.prefetch);
        // Only a page size other than the handshake's fails here (a record made for another VM
        // shape): the VM's faults are then left without a server, and whoever started both
        // ends it (the handler's exit says why).
        if (!installed) return fail("--prefetch", installed.error());
        std::fprintf(stderr,
                     "ember-uffd-handler: working set installed: %llu pages in %llu runs "
                     "(%llu zero) in %.1f ms\n",
                     static_cast<unsigned long long>(installed->pages),
                     static_cast<unsigned long long>(installed->runs),
                     static_cast<unsigned long long>(installed->zero_runs), installed->install_ms);
    }
    Result<ServeEnd> served = server->serve(stop->get());
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
    if (!opt.record.empty()) {
        Result<WorkingSet> set = server->working_set();
        Result<void> written =
            set ? write_working_set(opt.record, *set) : Result<void>(set.error());
        if (!written) return fail("--record", written.error());
        std::fprintf(stderr, "ember-uffd-handler: recorded %zu pages (%zu written) to %s\n",
                     set->offsets.size(), set->written.size(), opt.record.c_str());
    }
    if (!served) return fail("serve", served.error());
    if (*served == ServeEnd::kStopRequested) {
        signalfd_siginfo info{};
        ssize_t n = ::read(stop->get(), &info, sizeof(info));
        return 128 + (n == sizeof(info) ? static_cast<int>(info.ssi_signo) : SIGTERM);
    }
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
