#include "vmm/snapshot/machine_state.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "tests/unit/vmm/snapshot/test_state.h"
#include "vmm/persist/state_fields.h"
#include "vmm/snapshot/describe.h"
#include "vmm/snapshot/state_file.h"
#include "vmm/snapshot/state_sections.h"

namespace ember::snapshot {
namespace {

using testing::same_bytes;
using testing::same_vcpu;
using testing::sample_state;
using testing::sample_vcpu;

std::string load_error(std::span<const uint8_t> bytes) {
    Result<MachineState> decoded = decode_machine_state(bytes);
    return decoded ? std::string("decoded") : decoded.error().message();
}

// The sample state's sections, for tests that edit the list before encoding.
StateFile sample_sections() {
    Result<StateFile> file = decode_state_file(encode_machine_state(sample_state()));
    EXPECT_TRUE(file);
    return *file;
}

void remove_sections(StateFile& f, SectionTag tag) {
    std::erase_if(f.sections,
                  [&](const Section& s) { return s.tag == static_cast<uint32_t>(tag); });
}

TEST(MachineState, RoundTripsEverySection) {
    MachineState in = sample_state();
    Result<MachineState> out = decode_machine_state(encode_machine_state(in));
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_EQ(out->machine.vcpu_count, in.machine.vcpu_count);
    EXPECT_EQ(out->machine.mem_size_mib, in.machine.mem_size_mib);
    EXPECT_EQ(out->machine.smt, in.machine.smt);
    EXPECT_EQ(out->machine.huge_pages, in.machine.huge_pages);
    EXPECT_TRUE(same_bytes(out->vm.pic_master, in.vm.pic_master));
    EXPECT_TRUE(same_bytes(out->vm.pic_slave, in.vm.pic_slave));
    EXPECT_TRUE(same_bytes(out->vm.ioapic, in.vm.ioapic));
    EXPECT_TRUE(same_bytes(out->vm.pit, in.vm.pit));
    EXPECT_TRUE(same_bytes(out->vm.clock, in.vm.clock));
    ASSERT_EQ(out->vcpus.size(), 2u);
    EXPECT_TRUE(same_vcpu(out->vcpus[0], in.vcpus[0]));
    EXPECT_TRUE(same_vcpu(out->vcpus[1], in.vcpus[1]));
    EXPECT_EQ(out->memory, in.memory);
    EXPECT_EQ(out->devices, in.devices);
    EXPECT_EQ(out->creator.ember_version, "0.1.0");
    EXPECT_EQ(out->creator.created_unix_seconds, in.creator.created_unix_seconds);
}

TEST(MachineState, RoundTripsAnXsave2AreaLargerThan4KiB) {
    kvm::VcpuState v = sample_vcpu(0);
    v.xsave.assign(11008, 0x5a);  // AMX enabled: KVM_CAP_XSAVE2 reports more than 4096.
    Result<kvm::VcpuState> out = decode_vcpu_state(encode_vcpu_state(v));
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_EQ(out->xsave, v.xsave);
}

TEST(MachineState, EachSectionDecoderRefusesATruncatedPayload) {
    MachineState s = sample_state();
    std::vector<std::pair<const char*, std::vector<uint8_t>>> payloads = {
        {"machine", encode_machine_info(s.machine)},
        {"vm", encode_vm_state(s.vm)},
        {"vcpu", encode_vcpu_state(s.vcpus[0])},
        {"region", encode_memory_region(s.memory[0])},
        {"device", encode_device_state(s.devices[0])},
    };
    for (auto& [name, payload] : payloads) {
        for (size_t len = 0; len < payload.size(); ++len) {
            std::span<const uint8_t> cut = std::span<const uint8_t>(payload).first(len);
            bool decoded = std::string(name) == "machine"  ? bool(decode_machine_info(cut))
                           : std::string(name) == "vm"     ? bool(decode_vm_state(cut))
                           : std::string(name) == "vcpu"   ? bool(decode_vcpu_state(cut))
                           : std::string(name) == "region" ? bool(decode_memory_region(cut))
                                                           : bool(decode_device_state(cut));
            // A vCPU payload that ends just before its optional last field (tsc_khz, 12 bytes
            // with its header), or a VM payload before its save time (16 bytes), is what an
            // Ember without that field would write: valid.
            bool optional_tail = (std::string(name) == "vcpu" && len == payload.size() - 12) ||
                                 (std::string(name) == "vm" && len == payload.size() - 16);
            EXPECT_EQ(decoded, optional_tail) << name << " cut to " << len;
        }
    }
}

TEST(MachineState, DetectsAFlippedByteAtEveryOffsetOfASampleFile) {
    std::vector<uint8_t> bytes = encode_machine_state(sample_state(1));
    ASSERT_TRUE(decode_machine_state(bytes));
    for (size_t i = 0; i < bytes.size(); ++i) {
        std::vector<uint8_t> bad = bytes;
        bad[i] ^= 0x04;
        EXPECT_FALSE(decode_machine_state(bad)) << "flip at offset " << i;
    }
}

TEST(MachineState, DetectsTruncationAtEveryOffsetOfASampleFile) {
    std::vector<uint8_t> bytes = encode_machine_state(sample_state(1));
    for (size_t len = 0; len < bytes.size(); ++len) {
        EXPECT_FALSE(decode_machine_state(std::span<const uint8_t>(bytes).first(len)))
            << "truncated to " << len;
    }
}

TEST(MachineState, SkipsAnUnknownOptionalSectionAndRefusesAnUnknownRequiredOne) {
    StateFile f = sample_sections();
    f.minor = kFormatMinor + 1;
    f.sections.insert(f.sections.begin() + 2, Section{.tag = 999, .flags = 0, .payload = {9, 9}});
    std::vector<uint8_t> bytes = encode_state_file(f);
    Result<MachineState> decoded = decode_machine_state(bytes);
    ASSERT_TRUE(decoded) << decoded.error().message();
    EXPECT_EQ(decoded->vcpus.size(), 2u);
    Result<std::string> text = describe(bytes);
    ASSERT_TRUE(text);
    EXPECT_NE(text->find("optional: load skips it"), std::string::npos) << *text;

    f.sections.back().flags = kSectionMustUnderstand;
    f.sections.back().tag = 1000;
    std::string error = load_error(encode_state_file(f));
    EXPECT_NE(error.find("needs a newer Ember"), std::string::npos) << error;
    EXPECT_NE(error.find("tag 1000"), std::string::npos) << error;
}

TEST(MachineState, SkipsUnknownFieldsAndDefaultsMissingOptionalOnes) {
    // A later Ember adds field 99 to the vCPU section; an earlier one did not write tsc_khz (13).
    kvm::VcpuState v = sample_vcpu(0);
    std::vector<uint8_t> payload = encode_vcpu_state(v);
    Result<FieldReader> fields = FieldReader::parse(payload, "vCPU");
    ASSERT_TRUE(fields);
    FieldWriter w;
    for (const auto& [tag, data] : fields->fields()) {
        if (tag != 13) w.bytes(tag, data);
    }
    w.u64(99, 42);
    Result<kvm::VcpuState> out = decode_vcpu_state(w.take());
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_EQ(out->tsc_khz, 0u);
    v.tsc_khz = 0;
    EXPECT_TRUE(same_vcpu(*out, v));
}

// The host time of the save rides in the VM section as an optional field: an Ember before it
// (format 1.0 and 1.1 files) wrote fields 1-5 only, and such a file still loads, without it.
TEST(MachineState, CarriesTheSaveTimeAndLoadsFilesWithoutIt) {
    MachineState in = sample_state();
    in.vm.host_realtime_ns = 1'790'000'000'123'456'789ull;
    Result<MachineState> out = decode_machine_state(encode_machine_state(in));
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_EQ(out->vm.host_realtime_ns, in.vm.host_realtime_ns);

    std::vector<uint8_t> payload = encode_vm_state(in.vm);
    Result<FieldReader> fields = FieldReader::parse(payload, "VM");
    ASSERT_TRUE(fields);
    FieldWriter w;
    for (const auto& [tag, data] : fields->fields()) {
        if (tag <= 5) w.bytes(tag, data);
    }
    Result<kvm::VmState> old = decode_vm_state(w.take());
    ASSERT_TRUE(old) << old.error().message();
    EXPECT_EQ(old->host_realtime_ns, 0u);
    old->clock.flags = 0;  // KVM did not report its own pair either.
    EXPECT_FALSE(old->has_save_time());
}

TEST(ClockToSet, KeepsTheSavedClockUnlessAskedAndClearsKvmsOutputFlags) {
    kvm::VmState vm;
    vm.clock.clock = 5'000'000'000;
    vm.clock.flags = KVM_CLOCK_TSC_STABLE;
    vm.host_realtime_ns = 100'000'000'000;
    Result<kvm_clock_data> c = kvm::clock_to_set(vm, kvm::ClockRestore::kAsSaved, 130'000'000'000);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->clock, 5'000'000'000u);
    EXPECT_EQ(c->flags, 0u);
}

TEST(ClockToSet, AddsTheWallClockTimeElapsedSinceTheSave) {
    kvm::VmState vm;
    vm.clock.clock = 5'000'000'000;
    vm.clock.flags = KVM_CLOCK_TSC_STABLE;
    vm.host_realtime_ns = 100'000'000'000;
    Result<kvm_clock_data> c = kvm::clock_to_set(vm, kvm::ClockRestore::kRealtime, 130'000'000'000);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->clock, 35'000'000'000u);  // 30 s later.
    EXPECT_EQ(c->flags, 0u);
    // A host clock set back since the save never steps kvmclock back (as KVM's own rule).
    c = kvm::clock_to_set(vm, kvm::ClockRestore::kRealtime, 90'000'000'000);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->clock, 5'000'000'000u);
}

TEST(ClockToSet, LetsKvmAddTheTimeWhenItReportedItsOwnPair) {
    kvm::VmState vm;
    vm.clock.clock = 5'000'000'000;
    vm.clock.flags = KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC;
    vm.clock.realtime = 99'000'000'000;
    vm.host_realtime_ns = 100'000'000'000;
    Result<kvm_clock_data> c = kvm::clock_to_set(vm, kvm::ClockRestore::kRealtime, 130'000'000'000);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->flags, static_cast<uint32_t>(KVM_CLOCK_REALTIME));
    EXPECT_EQ(c->clock, 5'000'000'000u);
    EXPECT_EQ(c->realtime, 99'000'000'000u);
}

TEST(ClockToSet, RefusesRealtimeForAStateWithoutASaveTime) {
    kvm::VmState vm;
    vm.clock.clock = 5'000'000'000;
    Result<kvm_clock_data> c = kvm::clock_to_set(vm, kvm::ClockRestore::kRealtime, 130'000'000'000);
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().message().find("does not say when it was taken"), std::string::npos);
    EXPECT_TRUE(kvm::clock_to_set(vm, kvm::ClockRestore::kAsSaved, 130'000'000'000));
}

TEST(MachineState, RefusesAMissingRequiredField) {
    std::vector<uint8_t> payload = encode_vcpu_state(sample_vcpu(0));
    Result<FieldReader> fields = FieldReader::parse(payload, "vCPU");
    ASSERT_TRUE(fields);
    FieldWriter w;
    for (const auto& [tag, data] : fields->fields()) {
        if (tag != 2) w.bytes(tag, data);  // Drop the general registers.
    }
    Result<kvm::VcpuState> out = decode_vcpu_state(w.take());
    ASSERT_FALSE(out);
    EXPECT_NE(out.error().message().find("field missing"), std::string::npos);
}

TEST(MachineState, RefusesDuplicateFieldsAndWrongSizes) {
    FieldWriter dup;
    dup.u32(1, 1);
    dup.u32(1, 2);
    std::vector<uint8_t> dup_bytes = dup.take();
    EXPECT_FALSE(FieldReader::parse(dup_bytes, "test"));

    FieldWriter w;
    w.u32(1, 1);
    w.u32(2, 5);  // mem_size_mib must be a u64.
    w.u32(3, 0);
    w.str(4, "None");
    Result<MachineInfo> info = decode_machine_info(w.take());
    ASSERT_FALSE(info);
    EXPECT_NE(info.error().message().find("wrong size"), std::string::npos);
}

TEST(MachineState, RefusesDuplicateSingletonSections) {
    for (SectionTag tag : {SectionTag::kMachine, SectionTag::kVm, SectionTag::kCreator}) {
        StateFile f = sample_sections();
        for (const Section& s : f.sections) {
            if (s.tag == static_cast<uint32_t>(tag)) {
                f.sections.push_back(s);
                break;
            }
        }
        std::string error = load_error(encode_state_file(f));
        EXPECT_NE(error.find("duplicate snapshot section"), std::string::npos) << error;
    }
}

TEST(MachineState, RefusesMissingRequiredSections) {
    for (SectionTag tag : {SectionTag::kMachine, SectionTag::kVm}) {
        StateFile f = sample_sections();
        remove_sections(f, tag);
        EXPECT_NE(load_error(encode_state_file(f)).find("section missing"), std::string::npos);
    }
    StateFile f = sample_sections();
    remove_sections(f, SectionTag::kMemoryRegion);
    EXPECT_NE(load_error(encode_state_file(f)).find("no memory regions"), std::string::npos);
}

TEST(MachineState, RefusesInconsistentVcpus) {
    MachineState s = sample_state();
    s.vcpus.pop_back();
    EXPECT_NE(load_error(encode_machine_state(s)).find("machine has 2 vCPUs"), std::string::npos);
    s = sample_state();
    s.vcpus[1].index = 0;
    EXPECT_NE(load_error(encode_machine_state(s)).find("vCPU indices"), std::string::npos);
    // Out-of-order sections are fine: they are sorted by index.
    s = sample_state();
    std::swap(s.vcpus[0], s.vcpus[1]);
    Result<MachineState> out = decode_machine_state(encode_machine_state(s));
    ASSERT_TRUE(out);
    EXPECT_EQ(out->vcpus[0].index, 0u);
}

TEST(MachineState, RefusesInconsistentMemoryRegions) {
    MachineState s = sample_state();
    s.machine.mem_size_mib = 4096;
    EXPECT_NE(load_error(encode_machine_state(s)).find("memory regions hold 3584 MiB"),
              std::string::npos);
    s = sample_state();
    s.memory[1].gpa = (3ull << 30) - 4096;
    EXPECT_NE(load_error(encode_machine_state(s)).find("overlap"), std::string::npos);
    s = sample_state();
    s.memory[1].file_offset = 4096;
    EXPECT_NE(load_error(encode_machine_state(s)).find("share file bytes"), std::string::npos);
    s = sample_state();
    s.memory[0].gpa = 12;
    EXPECT_NE(load_error(encode_machine_state(s)).find("region invalid"), std::string::npos);
}

TEST(MachineState, RefusesDuplicateDevices) {
    MachineState s = sample_state();
    s.devices.push_back(s.devices[0]);
    EXPECT_NE(load_error(encode_machine_state(s)).find("duplicate snapshot device"),
              std::string::npos);
}

TEST(MachineState, SavesAndLoadsAFile) {
    std::string path = ::testing::TempDir() + "/machine_state_test.snap";
    ASSERT_TRUE(save(path, sample_state()));
    Result<MachineState> loaded = load(path);
    ASSERT_TRUE(loaded) << loaded.error().message();
    EXPECT_EQ(loaded->devices, sample_state().devices);

    // A corrupted file is refused with the path in the message.
    std::vector<uint8_t> bytes = *read_state_file(path);
    bytes[bytes.size() / 2] ^= 1;
    ASSERT_TRUE(write_state_file(path, bytes));
    Result<MachineState> bad = load(path);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message().find(path), std::string::npos) << bad.error().message();
    EXPECT_NE(bad.error().message().find("CRC64"), std::string::npos) << bad.error().message();
    ::unlink(path.c_str());
}

TEST(Describe, ListsVersionSectionsAndSummaries) {
    Result<std::string> text = describe(encode_machine_state(sample_state()));
    ASSERT_TRUE(text) << text.error().message();
    for (const char* expected :
         {"format 1.1", "x86_64", "CRC64 ok", "2 vCPUs, 3584 MiB", "vCPU 0: rip", "vCPU 1: rip",
          "5 CPUID entries, 3 MSRs, xsave 4096 B", "gpa [0x100000000, 0x120000000) 512 MiB",
          "\"rootfs\" virtio-block v1, 4 B", "Ember 0.1.0", "Check: OK"}) {
        EXPECT_NE(text->find(expected), std::string::npos) << expected << " in\n" << *text;
    }
}

TEST(Describe, SaysA2MSnapshotRestoresOnlyWithUffd) {
    MachineState s = sample_state();
    s.machine.huge_pages = "2M";
    Result<std::string> text = describe(encode_machine_state(s));
    ASSERT_TRUE(text) << text.error().message();
    EXPECT_NE(text->find("huge pages 2M (restores with the Uffd backend only)"), std::string::npos)
        << *text;
}

TEST(Describe, SaysWhetherClockRealtimeCanLoadIt) {
    MachineState s = sample_state();
    s.vm.clock.flags = 0;
    s.vm.host_realtime_ns = 1;
    Result<std::string> text = describe(encode_machine_state(s));
    ASSERT_TRUE(text) << text.error().message();
    EXPECT_NE(text->find("save time known (clock_realtime loads)"), std::string::npos) << *text;
    s.vm.host_realtime_ns = 0;
    text = describe(encode_machine_state(s));
    ASSERT_TRUE(text) << text.error().message();
    EXPECT_NE(text->find("no save time (no clock_realtime)"), std::string::npos) << *text;
}

TEST(Describe, ReportsWhyLoadWouldRefuseAReadableFile) {
    MachineState s = sample_state();
    s.vcpus.pop_back();
    Result<std::string> text = describe(encode_machine_state(s));
    ASSERT_TRUE(text);
    EXPECT_NE(text->find("Check: FAILED"), std::string::npos) << *text;
    std::vector<uint8_t> garbage(100, 0);
    EXPECT_FALSE(describe(garbage));
}

}  // namespace
}  // namespace ember::snapshot
