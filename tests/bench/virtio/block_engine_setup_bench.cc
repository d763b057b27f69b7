// block_engine_setup_bench: what a drive's engine costs where a restore (or a boot) builds it,
// without KVM: make_block_backend() over a real file, Sync against Async (io_uring: a 128-entry
// ring, the file and the completion eventfd registered), and the teardown, median [min-max] over
// ROUNDS (default 501). The end-to-end restore with each engine is restore_bench.sh's; this is
// the part the engine itself adds, without the sandbox's noise. Prints figures; asserts nothing.
// Usage: block_engine_setup_bench [ROUNDS]
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "devices/virtio/block/backend.h"
#include "tests/bench/spread.h"
#include "vmm/base/event_fd.h"

namespace ember::virtio {
namespace {

using Clock = std::chrono::steady_clock;

struct EngineTimes {
    bench::Spread create_us, destroy_us;
};

// ROUNDS backends of `engine` over the file at `path`, each built and torn down.
Result<EngineTimes> time_engine(IoEngine engine, const char* path, const EventFd& completions,
                                int rounds) {
    std::vector<double> create_us, destroy_us;
    for (int i = 0; i < rounds; ++i) {
        UniqueFd fd(::open(path, O_RDWR | O_CLOEXEC));
        const auto t0 = Clock::now();
        std::unique_ptr<BlockBackend> backend =
            EMBER_TRY(make_block_backend(engine, std::move(fd), &completions));
        const auto t1 = Clock::now();
        backend.reset();
        const auto t2 = Clock::now();
        create_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        destroy_us.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
    }
    return EngineTimes{bench::spread_of(std::move(create_us)),
                       bench::spread_of(std::move(destroy_us))};
}

Result<void> run(const char* path, int rounds) {
    const EventFd completions = EMBER_TRY(EventFd::create());
    const EngineTimes sync = EMBER_TRY(time_engine(IoEngine::kSync, path, completions, rounds));
    const EngineTimes async = EMBER_TRY(time_engine(IoEngine::kAsync, path, completions, rounds));
    std::printf("%-7s %-26s %-26s\n", "engine", "create us", "destroy us");
    for (const auto& [name, times] : {std::pair{"Sync", sync}, std::pair{"Async", async}}) {
        std::printf("%-7s %-26s %-26s\n", name, bench::spread_text(times.create_us, 1).c_str(),
                    bench::spread_text(times.destroy_us, 1).c_str());
    }
    std::printf(
        "rounds=%d; Async adds %.1f us per drive to a restore (median create, Async "
        "minus Sync)\n",
        rounds, async.create_us.median - sync.create_us.median);
    return ok();
}

}  // namespace
}  // namespace ember::virtio

int main(int argc, char** argv) {
    char path[] = "/tmp/ember-engine-bench.XXXXXX";
    const int tmp = ::mkstemp(path);
    if (tmp < 0 || ::ftruncate(tmp, 1 << 20) != 0) {
        std::perror("block_engine_setup_bench: temporary disk");
        return 1;
    }
    ::close(tmp);
    const auto done = ember::virtio::run(path, argc > 1 ? std::atoi(argv[1]) : 501);
    ::unlink(path);
    if (!done) {
        std::fprintf(stderr, "block_engine_setup_bench: %s\n", done.error().message().c_str());
        return 1;
    }
    return 0;
}
