#include "resources/seccomp/seccompiler/compile.h"

#include <sys/mman.h>
#include <unistd.h>

#include <memory>

#include "vmm/base/unique_fd.h"

namespace ember::seccompiler {
namespace {

struct ContextDeleter {
    void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Context = std::unique_ptr<void, ContextDeleter>;

scmp_arg_cmp to_libseccomp(const ArgCheck& check) {
    scmp_arg_cmp cmp{};
    cmp.arg = check.index;
    if (check.op == SCMP_CMP_MASKED_EQ) {
        cmp.op = SCMP_CMP_MASKED_EQ;
        cmp.datum_a = check.mask;
        cmp.datum_b = check.value;
    } else if (check.dword && check.op == SCMP_CMP_EQ) {
        // Compare the low 32 bits only: the upper half of an int argument is not defined.
        cmp.op = SCMP_CMP_MASKED_EQ;
        cmp.datum_a = 0xffffffffULL;
        cmp.datum_b = check.value;
    } else {
        cmp.op = check.op;
        cmp.datum_a = check.value;
    }
    return cmp;
}

Result<void> from_rc(int rc, const char* context, const std::string& detail) {
    if (rc < 0) return Error::from_errno(-rc, context, detail);
    return ok();
}

}  // namespace

Result<BpfProgram> compile_thread(const ThreadPolicy& policy, std::string_view thread) {
    std::string name(thread);
    Context ctx(seccomp_init(policy.default_action));
    if (!ctx) return Error::invalid("seccomp_init", name);
    for (const Rule& rule : policy.rules) {
        int nr = seccomp_syscall_resolve_name(rule.syscall.c_str());
        if (nr == __NR_SCMP_ERROR)
            return Error::invalid("unknown syscall", name + "." + rule.syscall);
        std::vector<scmp_arg_cmp> cmps;
        for (const ArgCheck& check : rule.args) cmps.push_back(to_libseccomp(check));
        EMBER_TRY(from_rc(seccomp_rule_add_array(ctx.get(), policy.filter_action, nr,
                                                 static_cast<unsigned>(cmps.size()), cmps.data()),
                          "seccomp_rule_add", name + "." + rule.syscall));
    }
    UniqueFd fd(::memfd_create("ember-seccompiler", MFD_CLOEXEC));
    if (!fd) return Error::from_errno("memfd_create");
    EMBER_TRY(from_rc(seccomp_export_bpf(ctx.get(), fd.get()), "seccomp_export_bpf", name));
    off_t size = ::lseek(fd.get(), 0, SEEK_END);
    if (size < 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0) {
        return Error::invalid("seccomp_export_bpf", name + ": odd program size");
    }
    BpfProgram program(static_cast<size_t>(size) / sizeof(sock_filter));
    if (::pread(fd.get(), program.data(), static_cast<size_t>(size), 0) != size) {
        return Error::from_errno("read exported BPF", name);
    }
    return program;
}

}  // namespace ember::seccompiler
