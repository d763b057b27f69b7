#include "vmm/base/metrics_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/core.h>

#include <algorithm>
#include <cerrno>

#include "vmm/base/file_open.h"

namespace ember {
namespace {

// Group and metric names are identifiers chosen in code, but escape them anyway.
void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    for (char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else {
            out += c;
        }
    }
    out += '"';
}

}  // namespace

Result<MetricsWriter> MetricsWriter::open(const std::string& path) {
    // A FIFO is opened read-write, as Firecracker does, so that it need not have a reader yet;
    // lines that do not fit in its buffer are dropped rather than stalling the vmm thread.
    NamedFile file = EMBER_TRY(open_named_file(path, FileAccess::kAppendOrCreate,
                                               FileKinds::kRegularFifoOrCharDevice,
                                               IoMode::kNonBlocking, "open metrics file"));
    return MetricsWriter(std::move(file.fd));
}

std::string MetricsWriter::render_line(std::span<const MetricGroup> groups,
                                       uint64_t utc_timestamp_ms) {
    std::string out = fmt::format("{{\"utc_timestamp_ms\":{}", utc_timestamp_ms);
    auto write_group = [&](std::string_view name, const MetricGroup* group) {
        out += ',';
        append_json_string(out, name);
        out += ":{";
        bool first = true;
        if (group) {
            for (const Metric& m : group->metrics) {
                uint64_t value = m.value;
                if (m.kind == MetricKind::kCounter) {
                    std::string key = fmt::format("{}.{}", group->name, m.name);
                    auto it = previous_.find(key);
                    uint64_t before = it == previous_.end() ? 0 : it->second;
                    // A counter that went backwards was reset by its owner: report it whole.
                    value = m.value >= before ? m.value - before : m.value;
                    previous_[key] = m.value;
                }
                if (!first) out += ',';
                first = false;
                append_json_string(out, m.name);
                out += fmt::format(":{}", value);
            }
        }
        out += '}';
    };
    auto find = [&](std::string_view name) -> const MetricGroup* {
        auto it = std::find_if(groups.begin(), groups.end(),
                               [&](const MetricGroup& g) { return g.name == name; });
        return it == groups.end() ? nullptr : &*it;
    };
    for (std::string_view name : kStandardMetricGroups) write_group(name, find(name));
    // Per-device groups (block_<id>, net_<id>) in the order given.
    for (const MetricGroup& g : groups) {
        bool standard =
            std::find(std::begin(kStandardMetricGroups), std::end(kStandardMetricGroups), g.name) !=
            std::end(kStandardMetricGroups);
        if (!standard) write_group(g.name, &g);
    }
    out += "}\n";
    return out;
}

Result<void> MetricsWriter::flush(std::span<const MetricGroup> groups, uint64_t utc_timestamp_ms) {
    std::string line = render_line(groups, utc_timestamp_ms);
    if (!fd_) return ok();
    ssize_t n = ::write(fd_.get(), line.data(), line.size());
    if (n < 0) return Error::from_errno("write metrics");
    if (static_cast<size_t>(n) != line.size()) {
        return Error::from_errno(EAGAIN, "write metrics", "short write");
    }
    return ok();
}

}  // namespace ember
