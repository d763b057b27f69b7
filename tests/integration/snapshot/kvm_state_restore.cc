// snapshot_kvm_state_restore: the snapshot building blocks against real KVM (in the sandbox).
// A real-mode guest counts: each loop increments BX, stores it at 0x8000 and writes it to port
// 0x10. After 5 counts the test captures the vCPU and VM state (snapshot/kvm_snapshot.cc),
// writes the memory file and the state file, then restores into fresh VMs and checks that the
// count continues at 6, first with the memory file mapped MAP_PRIVATE (File backend), then with
// ember-uffd-handler serving the pages (Uffd backend). The File-restored VM tracks dirty pages;
// after 3 more counts a diff snapshot is taken, merged onto a copy of the base with merge_diff,
// and restored too: the count continues at 9. Prints restore times; exit 0 only if all holds.
#include <fcntl.h>
#include <fmt/core.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "vmm/kvm/kvm.h"
#include "vmm/kvm/vcpu.h"
#include "vmm/kvm/vm.h"
#include "vmm/kvm/vm_state.h"
#include "vmm/snapshot/kvm_snapshot.h"
#include "vmm/snapshot/machine_state.h"
#include "vmm/snapshot/memory_file.h"
#include "vmm/snapshot/uffd_handshake.h"
#include "vmm/snapshot/working_set.h"

extern char** environ;

namespace ember {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kRamBytes = 1 << 20;
constexpr uint64_t kCodeGpa = 0x1000;
constexpr uint64_t kCounterGpa = 0x8000;
constexpr uint16_t kPort = 0x10;
constexpr uint64_t kMarker = 0x1234;  // In SI: a register the guest never touches.

// loop: inc bx; mov [0x8000], bx; mov ax, bx; mov dx, 0x10; out dx, al; jmp loop
constexpr uint8_t kCode[] = {0x43, 0x89, 0x1E, 0x00, 0x80, 0x89, 0xD8,
                             0xBA, 0x10, 0x00, 0xEE, 0xEB, 0xF3};

struct TestVm {
    kvm::Vm vm;
    GuestMemory memory;
    std::unique_ptr<kvm::Vcpu> vcpu;
    std::unique_ptr<kvm::Vcpu> ap;  // vCPU 1, never started: its wait-for-SIPI state is saved too.
};

Result<kvm::Vm> create_vm(const kvm::Kvm& kvm) {
    kvm::Vm vm = EMBER_TRY(kvm::Vm::create(kvm));
    EMBER_TRY(vm.set_tss_addr(kvm::kTssAddress));
    EMBER_TRY(vm.create_irq_chip());
    EMBER_TRY(vm.create_pit2());
    return vm;
}

// Registers `memory` as slot 0, optionally with dirty page logging, and creates vCPU 0.
Result<TestVm> assemble(const kvm::Kvm& kvm, GuestMemory memory, uint32_t slot_flags) {
    kvm::Vm vm = EMBER_TRY(create_vm(kvm));
    const GuestMemory::Region& r = memory.regions().at(0);
    EMBER_TRY(vm.set_user_memory_region(0, r.start, r.size(), r.mapping.data(), slot_flags));
    auto vcpu = std::make_unique<kvm::Vcpu>(EMBER_TRY(kvm::Vcpu::create(vm, 0)));
    auto ap = std::make_unique<kvm::Vcpu>(EMBER_TRY(kvm::Vcpu::create(vm, 1)));
    return TestVm{std::move(vm), std::move(memory), std::move(vcpu), std::move(ap)};
}

// Runs until `n` counts came out of port 0x10 and checks they continue from `first`.
Result<void> expect_counts(kvm::Vcpu& vcpu, uint32_t first, uint32_t n) {
    for (uint32_t want = first; want < first + n;) {
        kvm::VcpuExit exit = EMBER_TRY(vcpu.run());
        if (exit.kind == kvm::VcpuExit::Kind::kInterrupted) continue;
        if (exit.kind != kvm::VcpuExit::Kind::kIoOut || exit.address != kPort) {
            return Error::invalid("guest exit",
                                  fmt::format("unexpected exit kind {} at {:#x}",
                                              static_cast<int>(exit.kind), exit.address));
        }
        if (exit.data[0] != want) {
            return Error::invalid("guest count",
                                  fmt::format("got {}, expected {}", exit.data[0], want));
        }
        ++want;
    }
    return ok();
}

// KVM finishes an OUT (advances RIP) only on the next KVM_RUN: re-enter once with immediate_exit
// set so that the state read below is consistent (KVM API doc, KVM_RUN and immediate_exit).
Result<void> complete_pending_io(kvm::Vcpu& vcpu) {
    vcpu.set_immediate_exit(true);
    kvm::VcpuExit exit = EMBER_TRY(vcpu.run());
    vcpu.set_immediate_exit(false);
    if (exit.kind != kvm::VcpuExit::Kind::kInterrupted) {
        return Error::invalid("completing pending I/O", "KVM_RUN did not return at once");
    }
    return ok();
}

Result<snapshot::MachineState> capture(const kvm::Kvm& kvm, TestVm& t) {
    EMBER_TRY(complete_pending_io(*t.vcpu));
    snapshot::MachineState s;
    s.machine.mem_size_mib = kRamBytes >> 20;
    int vcpu_fd = t.vcpu->fd();
    int ap_fd = t.ap->fd();
    int vcpu_fds[] = {vcpu_fd, ap_fd};
    EMBER_TRY(snapshot::capture_kvm_state(s, kvm.fd(), t.vm.fd(), vcpu_fds));
    s.creator.ember_version = EMBER_VERSION;
    return s;
}

Result<void> restore_state(TestVm& t, const snapshot::MachineState& s) {
    int vcpu_fd = t.vcpu->fd();
    int vcpu_fds[] = {vcpu_fd, t.ap->fd()};
    EMBER_TRY(snapshot::restore_kvm_state(s, t.vm.fd(), vcpu_fds));
    kvm_regs regs = EMBER_TRY(t.vcpu->regs());
    if (regs.rsi != kMarker || regs.rip != s.vcpus[0].regs.rip) {
        return Error::invalid("restored registers",
                              fmt::format("rsi {:#x} rip {:#x}", regs.rsi, regs.rip));
    }
    kvm_mp_state ap_state = EMBER_TRY(t.ap->mp_state());
    kvm_lapic_state ap_lapic = EMBER_TRY(t.ap->lapic());
    // The APIC ID register (offset 0x20, ID in bits 24-31): vCPU 1 keeps ID 1.
    if (ap_state.mp_state != s.vcpus[1].mp_state.mp_state || ap_lapic.regs[0x23] != 1) {
        return Error::invalid(
            "restored vCPU 1",
            fmt::format("mp_state {} (saved {}), APIC ID {}", ap_state.mp_state,
                        s.vcpus[1].mp_state.mp_state, static_cast<int>(ap_lapic.regs[0x23])));
    }
    return ok();
}

Result<uint16_t> counter_in_memory(const TestVm& t) {
    return EMBER_TRY(t.memory.read_obj<uint16_t>(GuestAddress(kCounterGpa)));
}

// Copies a memory file, keeping its holes (the sandbox's busybox cp cannot).
Result<void> sparse_copy(const std::string& from, const std::string& to) {
    UniqueFd fd(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return Error::from_errno("open", from);
    MmapRegion map = EMBER_TRY(MmapRegion::of_file(fd.get(), kRamBytes, 0, PROT_READ, MAP_PRIVATE));
    std::vector<snapshot::MemoryChunk> chunks = {{.gpa = 0, .bytes = {map.data(), map.size()}}};
    EMBER_TRY(snapshot::write_full_memory(to, chunks));
    return ok();
}

long us_since(Clock::time_point start) {
    return static_cast<long>(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count());
}

Result<void> run(const std::string& dir, const char* handler) {
    kvm::Kvm kvm = EMBER_TRY(kvm::Kvm::open());

    // 1. The original VM counts to 5.
    GuestRange ram{GuestAddress(0), kRamBytes};
    GuestMemory ram_a = EMBER_TRY(GuestMemory::anonymous({&ram, 1}));
    TestVm a = EMBER_TRY(assemble(kvm, std::move(ram_a), 0));
    EMBER_TRY(a.memory.write(GuestAddress(kCodeGpa), kCode));
    std::vector<kvm_cpuid_entry2> cpuid = EMBER_TRY(kvm.supported_cpuid());
    EMBER_TRY(a.vcpu->set_cpuid(cpuid));
    kvm_sregs sregs = EMBER_TRY(a.vcpu->sregs());
    sregs.cs.base = 0;
    sregs.cs.selector = 0;
    EMBER_TRY(a.vcpu->set_sregs(sregs));
    kvm_regs regs{};
    regs.rip = kCodeGpa;
    regs.rflags = 0x2;
    regs.rsi = kMarker;
    EMBER_TRY(a.vcpu->set_regs(regs));
    EMBER_TRY(expect_counts(*a.vcpu, 1, 5));

    // 2. Full snapshot.
    auto t0 = Clock::now();
    snapshot::MachineState state = EMBER_TRY(capture(kvm, a));
    std::vector<snapshot::MemoryChunk> chunks = snapshot::chunks_of(a.memory);
    snapshot::MemoryFileLayout layout =
        EMBER_TRY(snapshot::write_full_memory(dir + "/mem", chunks));
    state.memory = layout.regions;
    EMBER_TRY(snapshot::save(dir + "/state", state));
    std::printf(
        "full snapshot of 2 vCPUs (vCPU 1 mp_state %u): %ld us, %llu pages written, %zu MSRs, "
        "%zu CPUID entries, xsave %zu B\n",
        state.vcpus[1].mp_state.mp_state, us_since(t0),
        static_cast<unsigned long long>(layout.pages_written), state.vcpus[0].msrs.size(),
        state.vcpus[0].cpuid.size(), state.vcpus[0].xsave.size());
    a = TestVm{EMBER_TRY(create_vm(kvm)), GuestMemory(), nullptr,
               nullptr};  // The original is gone.

    // 3. File backend, with dirty page tracking.
    t0 = Clock::now();
    snapshot::MachineState loaded = EMBER_TRY(snapshot::load(dir + "/state"));
    GuestMemory mapped = EMBER_TRY(snapshot::map_memory_file(dir + "/mem", loaded.memory));
    TestVm b = EMBER_TRY(assemble(kvm, std::move(mapped), KVM_MEM_LOG_DIRTY_PAGES));
    EMBER_TRY(restore_state(b, loaded));
    long file_restore_us = us_since(t0);
    EMBER_TRY(expect_counts(*b.vcpu, 6, 3));
    if (EMBER_TRY(counter_in_memory(b)) != 8)
        return Error::invalid("File restore", "counter in memory");
    std::printf("File backend: restored in %ld us, counted 6..8\n", file_restore_us);

    // 4. Diff snapshot of the File-restored VM, merged onto a copy of the base, restored.
    std::vector<uint64_t> dirty = EMBER_TRY(kvm::dirty_log(b.vm.fd(), 0, kRamBytes));
    snapshot::MachineState state2 = EMBER_TRY(capture(kvm, b));
    std::vector<snapshot::MemoryChunk> b_chunks = snapshot::chunks_of(b.memory);
    std::vector<std::span<const uint64_t>> bitmaps = {dirty};
    snapshot::MemoryFileLayout diff =
        EMBER_TRY(snapshot::write_diff_memory(dir + "/diff", b_chunks, bitmaps));
    state2.memory = diff.regions;
    EMBER_TRY(snapshot::save(dir + "/state2", state2));
    EMBER_TRY(sparse_copy(dir + "/mem", dir + "/merged"));
    snapshot::MergeStats merged = EMBER_TRY(snapshot::merge_diff(dir + "/merged", dir + "/diff"));
    snapshot::MachineState loaded2 = EMBER_TRY(snapshot::load(dir + "/state2"));
    GuestMemory merged_ram = EMBER_TRY(snapshot::map_memory_file(dir + "/merged", loaded2.memory));
    TestVm d = EMBER_TRY(assemble(kvm, std::move(merged_ram), 0));
    EMBER_TRY(restore_state(d, loaded2));
    EMBER_TRY(expect_counts(*d.vcpu, 9, 2));
    std::printf(
        "Diff: %llu dirty pages, merged %llu bytes in %llu extents, restored, counted 9..10\n",
        static_cast<unsigned long long>(diff.pages_written),
        static_cast<unsigned long long>(merged.bytes_copied),
        static_cast<unsigned long long>(merged.extents));

    // 5. Uffd backend: anonymous memory filled by ember-uffd-handler on first touch.
    std::string sock = dir + "/uffd.sock";
    std::vector<std::string> args = {handler,      "--socket", sock,       "--mem-file",
                                     dir + "/mem", "--record", dir + "/ws"};
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (std::string& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    pid_t child = -1;
    if (posix_spawnp(&child, handler, nullptr, nullptr, argv.data(), environ) != 0) {
        return Error::from_errno("spawn", handler);
    }
    for (int i = 0; ::access(sock.c_str(), F_OK) != 0; ++i) {
        if (i == 2000) return Error::invalid("ember-uffd-handler", "no socket after 10 s");
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    t0 = Clock::now();
    snapshot::MachineState loaded3 = EMBER_TRY(snapshot::load(dir + "/state"));
    GuestRange ram3{GuestAddress(0), kRamBytes};
    GuestMemory anon = EMBER_TRY(GuestMemory::anonymous({&ram3, 1}));
    UniqueFd uffd = EMBER_TRY(snapshot::create_userfaultfd());
    std::vector<snapshot::UffdRegion> regions =
        EMBER_TRY(snapshot::uffd_regions_of(anon, loaded3.memory));
    EMBER_TRY(snapshot::register_userfaultfd(uffd.get(), regions));
    UniqueFd connection = EMBER_TRY(snapshot::send_uffd_handshake(sock, uffd.get(), regions));
    TestVm c = EMBER_TRY(assemble(kvm, std::move(anon), 0));
    EMBER_TRY(restore_state(c, loaded3));
    long uffd_restore_us = us_since(t0);
    EMBER_TRY(expect_counts(*c.vcpu, 6, 3));
    if (EMBER_TRY(counter_in_memory(c)) != 8)
        return Error::invalid("Uffd restore", "counter in memory");
    std::printf("Uffd backend: restored in %ld us, counted 6..8\n", uffd_restore_us);
    c = TestVm{EMBER_TRY(create_vm(kvm)), GuestMemory(), nullptr, nullptr};
    connection.reset();
    int status = 0;
    ::waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        return Error::invalid("ember-uffd-handler", fmt::format("ended with status {:#x}", status));
    }
    // The record is read as the handler's --prefetch reads it, so a format change shows here.
    snapshot::WorkingSet ws = EMBER_TRY(snapshot::read_working_set(dir + "/ws"));
    std::printf("Uffd backend: the handler recorded a working set of %zu pages\n",
                ws.offsets.size());
    if (ws.offsets.size() < 2) {
        return Error::invalid("working set", "fewer than the code and counter pages");
    }
    if (ws.memory_file_bytes != kRamBytes) {
        return Error::invalid("working set", "recorded for another memory file size");
    }
    return ok();
}

}  // namespace
}  // namespace ember

int main(int argc, char** argv) {
    const char* handler = argc > 1 ? argv[1] : "ember-uffd-handler";
    char tmpl[] = "/tmp/ember-kvm-state-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return 1;
    ember::Result<void> result = ember::run(tmpl, handler);
    std::system(fmt::format("rm -rf {}", tmpl).c_str());
    if (!result) {
        std::fprintf(stderr, "snapshot_kvm_state_restore: FAIL: %s\n",
                     result.error().message().c_str());
        return 1;
    }
    std::printf("snapshot_kvm_state_restore: OK\n");
    return 0;
}
