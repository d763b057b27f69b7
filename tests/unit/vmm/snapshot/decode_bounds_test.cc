// The snapshot state readers' bounds: crafted files (many empty fields, sections, devices, memory
// regions) decode in time linear in their size, every count and size limit is refused with an
// error naming it, and reading a state file never runs past kMaxStateFileBytes + 1 bytes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "devices/legacy/boot_timer_persist.h"
#include "devices/legacy/cmos_persist.h"
#include "devices/legacy/i8042_persist.h"
#include "devices/legacy/serial_persist.h"
#include "devices/virtio/block/block_persist.h"
#include "tests/unit/vmm/snapshot/test_state.h"
#include "vmm/base/unique_fd.h"
#include "vmm/persist/byte_io.h"
#include "vmm/persist/state_fields.h"
#include "vmm/snapshot/describe.h"
#include "vmm/snapshot/machine_state.h"
#include "vmm/snapshot/state_file.h"
#include "vmm/snapshot/state_sections.h"

namespace ember::snapshot {
namespace {

using ::ember::snapshot::testing::sample_state;
using ::ember::snapshot::testing::sample_vcpu;
using Clock = std::chrono::steady_clock;

constexpr uint32_t kMust = kSectionMustUnderstand;

Section section(SectionTag tag, std::vector<uint8_t> payload, uint32_t flags = kMust) {
    return Section{
        .tag = static_cast<uint32_t>(tag), .flags = flags, .payload = std::move(payload)};
}

std::vector<uint8_t> file_of(std::vector<Section> sections) {
    StateFile f;
    f.sections = std::move(sections);
    return encode_state_file(f);
}

// `n` empty fields with distinct tags: each costs 8 bytes, the cheapest way to make many fields.
std::vector<uint8_t> empty_fields(size_t n, uint32_t first_tag = 0x10000000) {
    ByteWriter w;
    for (size_t i = 0; i < n; ++i) {
        w.u32(first_tag + static_cast<uint32_t>(i));
        w.u32(0);
    }
    return w.take();
}

// The crafted file of the hardening issue: one machine section of n empty fields.
std::vector<uint8_t> many_empty_fields(size_t n) {
    return file_of({section(SectionTag::kMachine, empty_fields(n))});
}

// Valid machine and VM sections (1 MiB of memory per region), so decode gets to the cross-section
// checks, and `vcpus` vCPUs.
std::vector<Section> preamble(uint64_t mem_mib, uint32_t vcpus = 1) {
    MachineInfo machine{.vcpu_count = vcpus, .mem_size_mib = mem_mib};
    std::vector<Section> s = {section(SectionTag::kMachine, encode_machine_info(machine)),
                              section(SectionTag::kVm, encode_vm_state(kvm::VmState{}))};
    for (uint32_t i = 0; i < vcpus; ++i) {
        s.push_back(section(SectionTag::kVcpu, encode_vcpu_state(sample_vcpu(i))));
    }
    return s;
}

Section region(uint64_t index) {
    return section(SectionTag::kMemoryRegion,
                   encode_memory_region(
                       {.gpa = index << 20, .size_bytes = 1 << 20, .file_offset = index << 20}));
}

Section device(size_t index) {
    DeviceState d{.id = std::to_string(index), .type = "t", .version = 1, .data = {}};
    return section(SectionTag::kDevice, encode_device_state(d));
}

std::vector<uint8_t> many_devices(size_t n) {
    std::vector<Section> s = preamble(1);
    s.push_back(region(0));
    for (size_t i = 0; i < n; ++i) s.push_back(device(i));
    return file_of(std::move(s));
}

std::vector<uint8_t> many_regions(size_t n) {
    std::vector<Section> s = preamble(n);
    for (size_t i = 0; i < n; ++i) s.push_back(region(i));
    return file_of(std::move(s));
}

std::string load_error(std::span<const uint8_t> bytes) {
    Result<MachineState> state = decode_machine_state(bytes);
    return state ? std::string("decoded") : state.error().message();
}

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// Seconds per decode (load and describe, the two readers of a state file): the median of 5 rounds,
// each repeating the decode for at least 20 ms so that a round is long enough to time on a loaded
// 2-core machine. A single decode slower than `give_up_s` is returned at once: it fails anyway.
double seconds_per_decode(std::span<const uint8_t> bytes, double give_up_s = 2.0) {
    std::vector<double> rounds;
    for (int round = 0; round < 5; ++round) {
        Clock::time_point start = Clock::now();
        int decodes = 0;
        do {
            (void)decode_machine_state(bytes);
            (void)describe(bytes);
            ++decodes;
            if (decodes == 1 && seconds_since(start) > give_up_s) return seconds_since(start);
        } while (seconds_since(start) < 0.02);
        rounds.push_back(seconds_since(start) / decodes);
    }
    std::sort(rounds.begin(), rounds.end());
    return rounds[rounds.size() / 2];
}

// 8 times the input must take well under 64 times as long (quadratic) on a noisy machine: 20x.
void expect_linear(const char* what, const std::vector<uint8_t>& small,
                   const std::vector<uint8_t>& large) {
    double t_small = seconds_per_decode(small);
    double t_large = seconds_per_decode(large);
    EXPECT_LT(t_large, 20 * t_small + 0.001)
        << what << ": " << small.size() << " bytes decode in " << t_small * 1e3 << " ms, "
        << large.size() << " bytes in " << t_large * 1e3 << " ms";
}

// What the limits leave room for: the largest state this Ember can write, with every count at its
// maximum and each variable-size part larger than today's hosts make it.
TEST(DecodeBounds, TheLargestStateEmberWritesFitsTwiceUnderTheSizeLimit) {
    MachineState s = sample_state(kMaxSnapshotVcpus);
    for (kvm::VcpuState& v : s.vcpus) {
        v.xsave.resize(16384);  // KVM_CAP_XSAVE2 is ~11 KiB with AMX tiles.
        v.cpuid.resize(256);    // KVM_MAX_CPUID_ENTRIES.
        v.msrs.resize(255);     // KVM_SET_MSRS takes fewer than 256.
    }
    s.devices = {encode_serial({}), encode_i8042({}), encode_cmos({}), encode_boot_timer({})};
    for (int i = 0; i < 19; ++i) {  // One virtio device per free legacy GSI, 5..23.
        BlockSnapshot b;
        b.drive.drive_id = std::string(63, 'a') + static_cast<char>('A' + i);
        b.drive.path_on_host = std::string(4095, 'p');  // PATH_MAX.
        b.drive.partuuid = std::string(64, 'u');
        TokenBucketConfig bucket{.size = 1, .one_time_burst = 1, .refill_time_ms = 1};
        b.drive.rate_limiter = RateLimiterConfig{.bandwidth = bucket, .ops = bucket};
        b.slot.transport.device.queues.resize(kMaxQueues);
        s.devices.push_back(encode_block(b));
    }
    std::vector<uint8_t> bytes = encode_machine_state(s);
    EXPECT_EQ(load_error(bytes), "decoded");
    EXPECT_LT(bytes.size(), kMaxStateFileBytes / 2) << bytes.size() << " bytes";
    std::printf("largest state: %zu bytes, limit %zu\n", bytes.size(), kMaxStateFileBytes);
}

TEST(DecodeBounds, DecodeTimeGrowsLinearlyWithTheNumberOfEmptyFields) {
    expect_linear("empty fields", many_empty_fields(10000), many_empty_fields(80000));
}

TEST(DecodeBounds, DecodeTimeGrowsLinearlyWithTheNumberOfDevices) {
    expect_linear("devices", many_devices(5000), many_devices(40000));
}

TEST(DecodeBounds, DecodeTimeGrowsLinearlyWithTheNumberOfMemoryRegions) {
    expect_linear("memory regions", many_regions(10000), many_regions(80000));
}

TEST(DecodeBounds, DecodesOrRefusesAnEightMegabyteFileOfEmptyFieldsWithinTwoSeconds) {
    // Both just past the size limit and just inside it (with its one section's length fixed up).
    std::vector<uint8_t> eight_mb = many_empty_fields(1'000'000);
    std::vector<uint8_t> at_limit = many_empty_fields(
        (kMaxStateFileBytes - kHeaderBytes - kSectionHeaderBytes - kCrcBytes) / 8);
    ASSERT_EQ(at_limit.size(), kMaxStateFileBytes);
    for (const auto* bytes : {&eight_mb, &at_limit}) {
        Clock::time_point start = Clock::now();
        std::string error = load_error(*bytes);
        (void)describe(*bytes);
        EXPECT_LT(seconds_since(start), 2.0) << bytes->size() << " bytes: " << error;
        EXPECT_NE(error, "decoded");
    }
}

TEST(DecodeBounds, RefusesAFileLargerThanTheLimitBeforeCheckingItsCrc) {
    std::vector<uint8_t> bytes = many_empty_fields(1'000'000);
    bytes.back() ^= 1;  // A bad CRC too: the size is what gets named.
    std::string error = load_error(bytes);
    EXPECT_NE(error.find("snapshot state file too large"), std::string::npos) << error;
    EXPECT_NE(error.find("limit 4194304"), std::string::npos) << error;
}

TEST(DecodeBounds, AcceptsAFileAtTheSizeLimit) {
    // One optional section of a later Ember filling the file: the container accepts it.
    size_t payload = kMaxStateFileBytes - kHeaderBytes - kSectionHeaderBytes - kCrcBytes;
    std::vector<uint8_t> bytes =
        file_of({Section{.tag = 1000, .flags = 0, .payload = std::vector<uint8_t>(payload)}});
    ASSERT_EQ(bytes.size(), kMaxStateFileBytes);
    Result<StateFile> file = decode_state_file(bytes);
    EXPECT_TRUE(file) << file.error().message();
}

TEST(DecodeBounds, RefusesMoreSectionsThanTheLimit) {
    std::vector<Section> sections(kMaxSections, Section{.tag = 1000, .flags = 0, .payload = {}});
    EXPECT_TRUE(decode_state_file(file_of(sections)));
    sections.push_back(sections.back());
    Result<StateFile> file = decode_state_file(file_of(sections));
    ASSERT_FALSE(file);
    EXPECT_NE(file.error().message().find("too many snapshot sections: more than 1024"),
              std::string::npos)
        << file.error().message();
}

TEST(DecodeBounds, RefusesMoreFieldsThanTheLimitInASectionOrADeviceBlob) {
    std::vector<uint8_t> fields = empty_fields(kMaxFields);
    EXPECT_TRUE(FieldReader::parse(fields, "test"));
    fields = empty_fields(kMaxFields + 1);
    Result<FieldReader> parsed = FieldReader::parse(fields, "test");
    ASSERT_FALSE(parsed);
    EXPECT_NE(
        parsed.error().message().find("too many snapshot fields: test section: more than 256"),
        std::string::npos)
        << parsed.error().message();
    EXPECT_NE(load_error(many_empty_fields(kMaxFields + 1)).find("too many snapshot fields"),
              std::string::npos);
}

TEST(DecodeBounds, FindsADuplicateFieldAmongMany) {
    std::vector<uint8_t> fields = empty_fields(200);
    std::vector<uint8_t> again = empty_fields(1, 0x10000000 + 150);
    fields.insert(fields.end(), again.begin(), again.end());
    Result<FieldReader> parsed = FieldReader::parse(fields, "test");
    ASSERT_FALSE(parsed);
    EXPECT_NE(
        parsed.error().message().find("duplicate snapshot field: test section, field 268435606"),
        std::string::npos)
        << parsed.error().message();
}

TEST(DecodeBounds, RefusesMoreVcpusThanTheLimit) {
    std::vector<Section> s = preamble(1, kMaxSnapshotVcpus);
    s.push_back(region(0));
    EXPECT_EQ(load_error(file_of(s)), "decoded");
    s.push_back(section(SectionTag::kVcpu, encode_vcpu_state(sample_vcpu(kMaxSnapshotVcpus))));
    EXPECT_NE(load_error(file_of(s)).find("too many sections: more than 32 vCPU sections"),
              std::string::npos)
        << load_error(file_of(s));

    // The machine section may not claim more either, nor none.
    for (uint32_t count : {0u, kMaxSnapshotVcpus + 1}) {
        std::vector<Section> m = preamble(1, 0);
        m[0] = section(SectionTag::kMachine,
                       encode_machine_info({.vcpu_count = count, .mem_size_mib = 1}));
        m.push_back(region(0));
        EXPECT_NE(load_error(file_of(m)).find("must be 1 to 32"), std::string::npos)
            << load_error(file_of(m));
    }
}

TEST(DecodeBounds, RefusesMoreDevicesThanTheLimit) {
    EXPECT_EQ(load_error(many_devices(kMaxDevices)), "decoded");
    std::string error = load_error(many_devices(kMaxDevices + 1));
    EXPECT_NE(error.find("more than 64 device sections"), std::string::npos) << error;
}

TEST(DecodeBounds, RefusesMoreMemoryRegionsThanTheLimit) {
    EXPECT_EQ(load_error(many_regions(kMaxMemoryRegions)), "decoded");
    std::string error = load_error(many_regions(kMaxMemoryRegions + 1));
    EXPECT_NE(error.find("more than 64 memory region sections"), std::string::npos) << error;
}

TEST(DecodeBounds, FindsDuplicateDevicesAndSharedFileBytesAmongMany) {
    std::vector<Section> s = preamble(1);
    s.push_back(region(0));
    for (size_t i = 0; i < 40; ++i) s.push_back(device(i));
    s.push_back(device(17));
    std::string error = load_error(file_of(s));
    EXPECT_NE(error.find("duplicate snapshot device: t \"17\""), std::string::npos) << error;

    // Regions 0..39 at distinct addresses, the last one's file bytes inside region 5's.
    std::vector<Section> r = preamble(41);
    for (uint64_t i = 0; i < 40; ++i) r.push_back(region(i));
    r.push_back(section(
        SectionTag::kMemoryRegion,
        encode_memory_region(
            {.gpa = 100ull << 20, .size_bytes = 1 << 20, .file_offset = (5ull << 20) + 4096})));
    error = load_error(file_of(r));
    EXPECT_NE(error.find("share file bytes"), std::string::npos) << error;
}

TEST(DecodeBounds, RefusesADeviceIdOrTypeLongerThanTheLimit) {
    DeviceState d{.id = std::string(kMaxDeviceNameBytes, 'a'), .type = "t", .version = 1};
    EXPECT_TRUE(decode_device_state(encode_device_state(d)));
    d.id.push_back('a');
    Result<DeviceState> long_id = decode_device_state(encode_device_state(d));
    ASSERT_FALSE(long_id);
    EXPECT_NE(long_id.error().message().find("device id of 65 bytes"), std::string::npos)
        << long_id.error().message();
    d.id = "a";
    d.type = std::string(1000, 't');
    EXPECT_FALSE(decode_device_state(encode_device_state(d)));
}

std::string temp_path(const char* name) { return ::testing::TempDir() + "/" + name; }

TEST(ReadStateFile, RefusesAFileLargerThanTheLimitWithoutReadingIt) {
    std::string path = temp_path("decode_bounds_large.snap");
    {
        UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        ASSERT_TRUE(fd);
        ASSERT_EQ(::ftruncate(fd.get(), kMaxStateFileBytes + 1), 0);
    }
    Result<std::vector<uint8_t>> read = read_state_file(path);
    ASSERT_FALSE(read);
    EXPECT_NE(read.error().message().find("too large"), std::string::npos)
        << read.error().message();
    ::unlink(path.c_str());
}

TEST(ReadStateFile, RefusesAFifoThatNeverEndsWithoutReadingIt) {
    std::string path = temp_path("decode_bounds.fifo");
    ::unlink(path.c_str());
    ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
    // A writer that never writes, and keeps the FIFO open: a read would block forever.
    UniqueFd writer(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    ASSERT_TRUE(writer);
    Result<std::vector<uint8_t>> read = read_state_file(path);
    ASSERT_FALSE(read);
    EXPECT_NE(read.error().message().find("not a regular file"), std::string::npos)
        << read.error().message();
    ::unlink(path.c_str());
}

TEST(ReadStateFile, StopsOneBytePastTheLimitOnAnEndlessDevice) {
    EXPECT_FALSE(read_state_file("/dev/zero"));
    // The bounded read itself, as it would run if a check before it let /dev/zero through.
    UniqueFd zero(::open("/dev/zero", O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(zero);
    Clock::time_point start = Clock::now();
    Result<std::vector<uint8_t>> read = read_at_most(zero, 0, kMaxStateFileBytes, "/dev/zero");
    EXPECT_LT(seconds_since(start), 1.0);
    ASSERT_FALSE(read);
    EXPECT_NE(read.error().message().find("/dev/zero: more than 4194304 bytes"), std::string::npos)
        << read.error().message();
}

TEST(ReadStateFile, ReadsPastASizeHintThatIsTooSmallButNotPastTheLimit) {
    std::string path = temp_path("decode_bounds_hint.snap");
    std::vector<uint8_t> bytes(10000, 0x5a);
    ASSERT_TRUE(write_state_file(path, bytes));
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(fd);
    Result<std::vector<uint8_t>> all = read_at_most(fd, 0, bytes.size(), path);
    ASSERT_TRUE(all) << all.error().message();
    EXPECT_EQ(*all, bytes);

    ASSERT_EQ(::lseek(fd.get(), 0, SEEK_SET), 0);
    Result<std::vector<uint8_t>> capped = read_at_most(fd, 100, bytes.size() - 1, path);
    ASSERT_FALSE(capped);
    EXPECT_NE(capped.error().message().find("more than 9999 bytes"), std::string::npos)
        << capped.error().message();
    ::unlink(path.c_str());
}

}  // namespace
}  // namespace ember::snapshot
