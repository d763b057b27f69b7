// Sends Ember's API the hostile requests of the hardening issue (tests/unit/api/hostile_requests.h)
// and checks that each gets its answers and that GET / still answers 200 after each; then, with
// --random, seeded random hostile connections for at most ROUNDS rounds or SECONDS seconds.
// Prints one "ok:" or "FAIL:" line per check; exits 1 on the first failure. Run by
// hostile_in_vm.sh against ember while a guest runs.
// Usage: hostile_api_client SOCKET [--random SEED ROUNDS SECONDS]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tests/unit/api/hostile_requests.h"
#include "tests/unit/api/raw_http_client.h"

namespace {

using namespace ember::api::testing;

bool still_serving(const std::string& socket) {
    return response_statuses(send_and_receive(socket, http_request("GET", "/", ""))) ==
           std::vector<int>{200};
}

int run_cases(const std::string& socket) {
    for (const HostileCase& c : hostile_cases()) {
        auto start = std::chrono::steady_clock::now();
        std::vector<int> statuses = response_statuses(send_and_receive(socket, c.bytes));
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
        if (!statuses_match(statuses, c.statuses)) {
            std::printf("FAIL: %s: %zu answers (first %d), expected %zu\n", c.name.c_str(),
                        statuses.size(), statuses.empty() ? 0 : statuses[0], c.statuses.size());
            return 1;
        }
        if (!still_serving(socket)) {
            std::printf("FAIL: %s: GET / gets no 200 afterwards\n", c.name.c_str());
            return 1;
        }
        std::printf("ok: %s -> %zu answer(s), first %d, in %lld ms\n", c.name.c_str(),
                    statuses.size(), statuses[0], static_cast<long long>(ms));
    }
    return 0;
}

int run_random(const std::string& socket, uint64_t seed, int rounds, int seconds) {
    HostileGenerator gen(seed);
    auto start = std::chrono::steady_clock::now();
    int round = 0;
    for (;
         round < rounds && std::chrono::steady_clock::now() - start < std::chrono::seconds(seconds);
         ++round) {
        (void)send_and_receive(
            socket, gen.connection(),
            round % 7 == 0 ? std::chrono::milliseconds(20) : std::chrono::seconds(20));
        if (round % 10 == 9 && !still_serving(socket)) {
            std::printf("FAIL: seed %llu, round %d: GET / gets no 200\n",
                        static_cast<unsigned long long>(seed), round);
            return 1;
        }
    }
    if (!still_serving(socket)) {
        std::printf("FAIL: seed %llu: GET / gets no 200 after %d rounds\n",
                    static_cast<unsigned long long>(seed), round);
        return 1;
    }
    std::printf("ok: %d random hostile connections (seed %llu), GET / still answers 200\n", round,
                static_cast<unsigned long long>(seed));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2 && !(argc == 6 && std::strcmp(argv[2], "--random") == 0)) {
        std::fprintf(stderr, "usage: hostile_api_client SOCKET [--random SEED ROUNDS SECONDS]\n");
        return 2;
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    std::string socket = argv[1];
    if (argc == 2) return run_cases(socket);
    return run_random(socket, std::strtoull(argv[3], nullptr, 0), std::atoi(argv[4]),
                      std::atoi(argv[5]));
}
