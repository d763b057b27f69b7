// snapshot_memory_bench: host-side costs of the snapshot memory paths, without KVM. For a guest
// RAM of N MiB (default 256) with half its pages holding data: writing the full memory file,
// writing a 5 % diff and merging it onto the base, and touching every page once after a restore
// with the File backend (MAP_PRIVATE, warm page cache) and with the Uffd backend
// (ember-uffd-handler serving each fault, then again with the recorded working set prefetched).
// Prints figures; asserts nothing.  Usage: snapshot_memory_bench [MIB]
#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "vmm/snapshot/memory_file.h"
#include "vmm/snapshot/uffd_handshake.h"

extern char** environ;

namespace ember::snapshot {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

uint64_t allocated_mib(const std::string& path) {
    struct stat st {};
    ::stat(path.c_str(), &st);
    return static_cast<uint64_t>(st.st_blocks) * 512 >> 20;
}

// Reads one byte of every page; returns their sum so the reads are not optimized away.
uint64_t touch_all(const uint8_t* base, uint64_t bytes) {
    uint64_t sum = 0;
    for (uint64_t off = 0; off < bytes; off += kPageSize) sum += base[off];
    return sum;
}

// Touches every page of anonymous memory served by ember-uffd-handler; returns the ms it took.
double uffd_touch(const std::string& dir, const MemoryRegionState& region,
                  std::vector<std::string> extra) {
    MmapRegion memory = *MmapRegion::anonymous(region.size_bytes);
    UniqueFd uffd = *create_userfaultfd();
    std::vector<UffdRegion> regions = {
        {.base_host_virt_addr = reinterpret_cast<uint64_t>(memory.data()),
         .size = region.size_bytes,
         .offset = region.file_offset,
         .page_size = kPageSize}};
    if (!register_userfaultfd(uffd.get(), regions)) std::abort();
    std::string sock = dir + "/uffd.sock";
    ::unlink(sock.c_str());
    std::vector<std::string> args = {EMBER_UFFD_HANDLER, "--socket", sock, "--mem-file",
                                     dir + "/full"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t child = -1;
    if (posix_spawn(&child, argv[0], nullptr, nullptr, argv.data(), environ) != 0) std::abort();
    Result<UniqueFd> conn = Error::invalid("not tried");
    while (!(conn = send_uffd_handshake(sock, uffd.get(), regions))) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    auto t0 = Clock::now();
    volatile uint64_t sum = touch_all(memory.data(), region.size_bytes);
    (void)sum;
    double ms = ms_since(t0);
    conn->reset();
    int status = 0;
    ::waitpid(child, &status, 0);
    return ms;
}

int run(uint64_t mib) {
    char tmpl[] = "/tmp/ember-memory-bench-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return 1;
    std::string dir = tmpl;
    uint64_t bytes = mib << 20;
    uint64_t pages = bytes / kPageSize;
    MmapRegion ram = *MmapRegion::anonymous(bytes);
    std::mt19937_64 rng(42);
    for (uint64_t p = 0; p < pages; p += 2) {  // Every other page holds data.
        auto* words = reinterpret_cast<uint64_t*>(ram.data() + p * kPageSize);
        for (size_t i = 0; i < kPageSize / 8; ++i) words[i] = rng();
    }
    std::printf("guest RAM %llu MiB, %llu pages, half of them zero\n",
                static_cast<unsigned long long>(mib), static_cast<unsigned long long>(pages));

    std::vector<MemoryChunk> chunks = {{.gpa = 0, .bytes = {ram.data(), bytes}}};
    auto t0 = Clock::now();
    MemoryFileLayout full = *write_full_memory(dir + "/full", chunks);
    double full_ms = ms_since(t0);
    std::printf("full memory file: %.1f ms (%.0f MiB/s of guest RAM), %llu MiB allocated of %llu\n",
                full_ms, static_cast<double>(mib) / (full_ms / 1000),
                static_cast<unsigned long long>(allocated_mib(dir + "/full")),
                static_cast<unsigned long long>(mib));

    std::vector<uint64_t> bitmap((pages + 63) / 64, 0);
    for (uint64_t i = 0; i < pages / 20; ++i) {
        uint64_t p = rng() % pages;
        bitmap[p / 64] |= 1ull << (p % 64);
        ram.data()[p * kPageSize] ^= 0xff;
    }
    std::vector<std::span<const uint64_t>> dirty = {bitmap};
    t0 = Clock::now();
    MemoryFileLayout diff = *write_diff_memory(dir + "/diff", chunks, dirty);
    double diff_ms = ms_since(t0);
    std::string merged = dir + "/merged";
    if (!write_full_memory(merged, chunks)) return 1;  // A base to merge onto (content irrelevant).
    t0 = Clock::now();
    MergeStats stats = *merge_diff(merged, dir + "/diff");
    double merge_ms = ms_since(t0);
    std::printf(
        "diff (5%% of pages dirty, %llu pages): write %.1f ms, merge %.1f ms "
        "(%llu extents, %llu MiB)\n",
        static_cast<unsigned long long>(diff.pages_written), diff_ms, merge_ms,
        static_cast<unsigned long long>(stats.extents),
        static_cast<unsigned long long>(stats.bytes_copied >> 20));

    t0 = Clock::now();
    GuestMemory mapped = *map_memory_file(dir + "/full", full.regions);
    double map_ms = ms_since(t0);
    t0 = Clock::now();
    volatile uint64_t sum = touch_all(mapped.regions()[0].mapping.data(), bytes);
    (void)sum;
    double file_touch_ms = ms_since(t0);
    std::printf("File backend: map %.3f ms, first touch of every page %.1f ms (%.2f us/page)\n",
                map_ms, file_touch_ms, file_touch_ms * 1000 / static_cast<double>(pages));

    if (!create_userfaultfd()) {
        std::printf("Uffd backend: no userfaultfd here, skipped\n");
    } else {
        double on_demand = uffd_touch(dir, full.regions[0], {"--record", dir + "/ws"});
        std::printf("Uffd backend: first touch of every page %.1f ms (%.2f us/fault)\n", on_demand,
                    on_demand * 1000 / static_cast<double>(pages));
        // The handler installs the recorded set in runs right after the handshake, serving any
        // fault that arrives meanwhile: the figure is the touches with the set mostly in place.
        double prefetched = uffd_touch(dir, full.regions[0], {"--prefetch", dir + "/ws"});
        std::printf("Uffd backend with the recorded working set prefetched: %.1f ms\n", prefetched);
    }
    std::system(("rm -rf " + dir).c_str());
    return 0;
}

}  // namespace
}  // namespace ember::snapshot

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // Lines in order with the handler's stderr.
    uint64_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 256;
    return ember::snapshot::run(mib == 0 ? 256 : mib);
}
