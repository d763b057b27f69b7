// Hostile requests for Ember's API, shared by the unit tests under seccomp and the sandbox test
// against a running guest: the fixed cases of the hardening issue and a seeded generator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace ember::api::testing {

// RequestLimits' default, Firecracker's HTTP_MAX_PAYLOAD_SIZE.
inline constexpr size_t kDefaultBodyLimit = 51200;

std::string nested_arrays(size_t depth);
std::string nested_objects(size_t depth);
// A machine-config body of exactly `size` bytes: valid JSON with an unknown padding field.
std::string body_of_size(size_t size);
// {"":0,"":0,...} with `count` keys (5 bytes a key: 10^4 fit in the default body limit).
std::string many_keys(size_t count);
// `count` keep-alive GET / and a last one that closes the connection.
std::string pipelined_gets(size_t count);

// One connection's bytes and the statuses its answers must have, in order (kAnyStatus: any).
inline constexpr int kAnyStatus = 0;
struct HostileCase {
    std::string name;
    std::string bytes;
    std::vector<int> statuses;
};
// Each must get its answers and leave the server running: a body at and over the limit, nesting
// to the deepest the body allows, 10^4 keys, 10^4 pipelined requests, invalid UTF-8, unclosed
// nests, large bodies on every PUT path.
std::vector<HostileCase> hostile_cases(size_t body_limit = kDefaultBodyLimit);
// True if `got` are the answers `wanted` (kAnyStatus matching any one answer).
bool statuses_match(const std::vector<int>& got, const std::vector<int>& wanted);

// Random hostile connections: random nesting, key counts, sizes around the body limit,
// pipelining, random bytes. Deterministic for a seed.
class HostileGenerator {
public:
    explicit HostileGenerator(uint64_t seed, size_t body_limit = kDefaultBodyLimit)
        : rng_(seed), body_limit_(body_limit) {}
    std::string connection();

private:
    size_t below(size_t n);
    size_t pick(std::initializer_list<size_t> choices);
    std::string request(bool last);
    std::string body();
    std::string nest(size_t depth);
    std::string keys(size_t count);
    std::string string_field(size_t size);
    std::string random_bytes(size_t size);
    std::string mixed(size_t parts);

    std::mt19937_64 rng_;
    size_t body_limit_;
};

}  // namespace ember::api::testing
