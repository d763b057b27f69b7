// VcpuExit: one decoded KVM_RUN exit, and RunnableVcpu, the two calls the vCPU runner needs, so
// that the runner's pause/stop state machine can be tested with a fake vCPU on hosts without KVM.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "vmm/base/result.h"

namespace ember::kvm {

struct VcpuExit {
    enum class Kind {
        kIoIn,       // `address` is the port; fill `data` (size * count bytes).
        kIoOut,      // `address` is the port; `data` holds size * count bytes.
        kMmioRead,   // Fill `data`.
        kMmioWrite,  // `data` holds the written bytes.
        kHlt,
        kShutdown,       // Triple fault or INIT-induced shutdown.
        kSystemEvent,    // `code` is KVM_SYSTEM_EVENT_*.
        kInternalError,  // `code` is the suberror.
        kFailEntry,      // `code` is the hardware entry failure reason.
        kInterrupted,    // EINTR/immediate_exit: a kick from the VMM.
        kUnknown,        // `code` is the raw exit reason.
    };

    Kind kind = Kind::kUnknown;
    uint64_t address = 0;
    // For port I/O: the access size; `data` covers size * count bytes (string instructions).
    uint32_t size = 0;
    uint32_t count = 0;
    std::span<uint8_t> data;
    uint64_t code = 0;
};

class RunnableVcpu {
public:
    virtual ~RunnableVcpu() = default;
    // KVM_RUN until the next exit that needs userspace. Thread: the vCPU's own thread.
    virtual Result<VcpuExit> run() = 0;
    // Sets kvm_run->immediate_exit so that the next (or current, after a signal) KVM_RUN returns
    // at once. Thread: any.
    virtual void set_immediate_exit(bool value) = 0;
    // Where the vCPU stands (RIP, control registers, a pending exception), for the log line after
    // a triple fault. Thread: the vCPU's own thread, outside KVM_RUN.
    virtual std::string describe_state() const { return {}; }
};

}  // namespace ember::kvm
