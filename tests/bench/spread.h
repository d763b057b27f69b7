// Spread: the median, min and max of a benchmark's samples, and their "median [min-max]" text,
// for the benchmark programs that print figures.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include <fmt/core.h>

namespace ember::bench {

struct Spread {
    double median = 0, min = 0, max = 0;
};

// Of at least one sample.
inline Spread spread_of(std::vector<double> samples) {
    std::sort(samples.begin(), samples.end());
    return {samples[samples.size() / 2], samples.front(), samples.back()};
}

// "median [min-max]" with `decimals` places.
inline std::string spread_text(const Spread& s, int decimals) {
    return fmt::format("{:.{}f} [{:.{}f}-{:.{}f}]", s.median, decimals, s.min, decimals, s.max,
                       decimals);
}

}  // namespace ember::bench
