// block_engine_setup_bench: what a drive's engine costs where a restore (or a boot) builds it,
// without KVM: make_block_backend() over a real file, Sync against Async (io_uring: a 128-entry
// ring, the file and the completion eventfd registered), and the teardown, median [min-max] over
// ROUNDS (default 501). The end-to-end restore with each engine is restore_bench.sh's; this is
// the part the engine itself adds, without the sandbox's noise. Prints figures; asserts nothing.
// Usage: block_engine_setup_bench [ROUNDS]
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "devices/virtio/block/backend.h"
#include "vmm/base/event_fd.h"

namespace ember::virtio {
namespace {

using Clock = std::chrono::steady_clock;

struct Stats {
    double median, min, max;
};

Stats stats_of(std::vector<double> us) {
    std::sort(us.begin(), us.end());
    return {us[us.size() / 2], us.front(), us.back()};
}

std::string text(const Stats& s) {
    return fmt::format("{:.1f} [{:.1f}-{:.1f}]", s.median, s.min, s.max);
}

int run(int rounds) {
    char path[] = "/tmp/ember-engine-bench.XXXXXX";
    const int tmp = ::mkstemp(path);
    if (tmp < 0 || ::ftruncate(tmp, 1 << 20) != 0) {
        std::perror("block_engine_setup_bench: temporary disk");
        return 1;
    }
    ::close(tmp);
    Result<EventFd> completions = EventFd::create();
    if (!completions) {
        std::fprintf(stderr, "block_engine_setup_bench: %s\n",
                     completions.error().message().c_str());
        return 1;
    }
    std::printf("%-7s %-26s %-26s\n", "engine", "create us", "destroy us");
    int status = 0;
    double create_median[2] = {0, 0};
    for (const IoEngine engine : {IoEngine::kSync, IoEngine::kAsync}) {
        std::vector<double> create_us, destroy_us;
        for (int i = 0; i < rounds && status == 0; ++i) {
            UniqueFd fd(::open(path, O_RDWR | O_CLOEXEC));
            const auto t0 = Clock::now();
            Result<std::unique_ptr<BlockBackend>> backend =
                make_block_backend(engine, std::move(fd), &*completions);
            const auto t1 = Clock::now();
            if (!backend) {
                std::fprintf(stderr, "block_engine_setup_bench: %s\n",
                             backend.error().message().c_str());
                status = 1;
                break;
            }
            backend->reset();
            const auto t2 = Clock::now();
            create_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
            destroy_us.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
        }
        if (status != 0) break;
        const Stats create = stats_of(create_us);
        create_median[engine == IoEngine::kAsync ? 1 : 0] = create.median;
        std::printf("%-7s %-26s %-26s\n", engine == IoEngine::kAsync ? "Async" : "Sync",
                    text(create).c_str(), text(stats_of(destroy_us)).c_str());
    }
    ::unlink(path);
    if (status == 0) {
        std::printf(
            "rounds=%d; Async adds %.1f us per drive to a restore (median create, Async "
            "minus Sync)\n",
            rounds, create_median[1] - create_median[0]);
    }
    return status;
}

}  // namespace
}  // namespace ember::virtio

int main(int argc, char** argv) { return ember::virtio::run(argc > 1 ? std::atoi(argv[1]) : 501); }
