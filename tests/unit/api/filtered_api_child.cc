#include "tests/unit/api/filtered_api_child.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "api/http_server.h"
#include "api/router.h"
#include "vmm/base/seccomp_builtin.h"
#include "vmm/core/vmm.h"

namespace ember::api::testing {
namespace {

// Child exit codes for a set-up step that failed (148 stays the seccomp violation).
constexpr int kChildSetupFailed = 90;

[[noreturn]] void exit_child(int code) {
    // Not exit(): no atexit handlers or sanitizer leak checks in a forked gtest child.
    ::syscall(SYS_exit_group, code);
    __builtin_unreachable();
}

// Runs in the child: ember's main, minus the command line.
[[noreturn]] void serve(const std::string& dir, const std::string& socket, int ready_fd) {
    // Fails only under a sanitizer's allocator, which these filters are not written for.
    (void)use_one_malloc_arena();
    // The API thread gets a 256 KiB stack, as under a jailer's low RLIMIT_STACK: no request may
    // need stack in proportion to its size (a recursive JSON parse once did, 25,000 levels deep).
    pthread_attr_t small_stack;
    if (::pthread_attr_init(&small_stack) != 0 ||
        ::pthread_attr_setstacksize(&small_stack, size_t{256} * 1024) != 0 ||
        ::pthread_setattr_default_np(&small_stack) != 0) {
        exit_child(kChildSetupFailed + 7);
    }
    if (!install_sigsys_handler()) exit_child(kChildSetupFailed);
    Result<SeccompFilters> filters = builtin_seccomp_filters();
    if (!filters) exit_child(kChildSetupFailed + 1);
    Vmm::Options options;
    options.kvm_path = dir + "/no-kvm-here";
    options.console_input_fd = -1;
    options.seccomp = &*filters;
    Result<std::unique_ptr<Vmm>> vmm = Vmm::create(options);
    if (!vmm) exit_child(kChildSetupFailed + 2);
    Router router(**vmm);
    HttpServerOptions server_options;
    server_options.socket_path = socket;
    server_options.seccomp = &filters->program(ThreadKind::kApi);
    auto server = HttpServer::start(std::move(server_options), router);
    if (!server) exit_child(kChildSetupFailed + 3);
    // As once a guest runs: the vmm thread converts and applies what the API thread parsed.
    if (!filters->install(ThreadKind::kVmm)) exit_child(kChildSetupFailed + 4);
    if (::write(ready_fd, "r", 1) != 1) exit_child(kChildSetupFailed + 5);
    exit_child((*vmm)->run());
}

}  // namespace

FilteredApiChild::FilteredApiChild(const std::string& dir)
    : socket_(dir + "/api.sock"), stderr_path_(dir + "/child.stderr") {
    // A killed child leaves its socket file, which HttpServer::start refuses to take over.
    ::unlink(socket_.c_str());
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) return;
    int err = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    pid_ = ::fork();
    if (pid_ == 0) {
        ::close(ready[0]);
        if (err < 0 || ::dup2(err, STDERR_FILENO) < 0) exit_child(kChildSetupFailed + 6);
        serve(dir, socket_, ready[1]);
    }
    if (err >= 0) ::close(err);
    ::close(ready[1]);
    // One byte once the socket listens and both filters are on; EOF if the child died first.
    char byte;
    while (::read(ready[0], &byte, 1) < 0 && errno == EINTR) {
    }
    ::close(ready[0]);
}

FilteredApiChild::~FilteredApiChild() {
    if (pid_ > 0 && alive()) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
}

bool FilteredApiChild::alive() {
    if (pid_ <= 0) return false;
    if (status_) return false;
    int status = 0;
    pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == 0) return true;
    status_ = status;
    return false;
}

std::string FilteredApiChild::obituary() {
    std::ostringstream out;
    if (alive()) {
        out << "child alive";
    } else if (!status_) {
        out << "child never started";
    } else if (WIFEXITED(*status_)) {
        out << "child exited " << WEXITSTATUS(*status_);
    } else {
        out << "child killed by signal " << WTERMSIG(*status_);
    }
    std::ifstream in(stderr_path_);
    std::string line, last;
    // The log lines before it are noise; the bad-syscall line comes last.
    while (std::getline(in, line)) last = line;
    out << "; last stderr line: " << last;
    return out.str();
}

}  // namespace ember::api::testing
