// Paths a client names, through the router into the real Vmm (no KVM needed: nothing boots): a
// FIFO with no peer, a directory, `.`, character devices, a symlink to a FIFO and a missing file
// each get an answer in bounded time, and the vmm thread keeps serving afterwards.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "api/router.h"
#include "tests/fakes/scratch_dir.h"
#include "tests/unit/api/test_request.h"
#include "vmm/core/vmm.h"

namespace ember::api {
namespace {

class VmmApiFilesTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::promise<void> ready;
        thread_ = std::jthread([&] {
            Vmm::Options options;
            options.kvm_path = dir_ + "/no-kvm-here";
            options.console_input_fd = -1;
            Result<std::unique_ptr<Vmm>> vmm = Vmm::create(options);
            if (vmm) {
                vmm_ = std::move(*vmm);
                router_ = std::make_unique<Router>(*vmm_);
            } else {
                ADD_FAILURE() << vmm.error().message();
            }
            ready.set_value();
            if (vmm_) vmm_->run();
        });
        ready.get_future().wait();
        ASSERT_TRUE(vmm_);
    }
    void TearDown() override {
        if (vmm_) vmm_->request_exit(Vmm::kExitOk);
        if (thread_.joinable()) thread_.join();
    }

    // The answer to one request, or a failure (not a hang) if it takes over two seconds; the
    // vmm thread, blocked in open(), is then released by opening the FIFO's other end.
    HttpResponse call(HttpMethod method, const std::string& path, const std::string& body) {
        auto answer = std::async(std::launch::async,
                                 [&] { return router_->handle(make_request(method, path, body)); });
        if (answer.wait_for(std::chrono::seconds(2)) == std::future_status::timeout) {
            ADD_FAILURE() << path << " blocked: " << body;
            UniqueFd release(::open(fifo_.c_str(), O_RDWR | O_NONBLOCK));
        }
        return answer.get();
    }

    static void expect_fault(const HttpResponse& r, const std::string& text) {
        EXPECT_EQ(r.status, 400) << r.body;
        EXPECT_EQ(r.body.rfind("{\"fault_message\":", 0), 0u) << r.body;
        EXPECT_NE(r.body.find(text), std::string::npos) << r.body;
    }

    // A read-only open of a FIFO blocks until a writer comes; a read-write one never does.
    std::string drive(const std::string& path, const char* read_only = "false") const {
        return R"({"drive_id": "rootfs", "path_on_host": ")" + path +
               R"(", "is_root_device": true, "is_read_only": )" + read_only + "}";
    }

    testing::ScratchDir scratch_{"ember-vmm-files"};
    const std::string dir_ = scratch_.path();
    const std::string fifo_ = scratch_.make_fifo("fifo");
    const std::string link_ = scratch_.make_symlink("link", fifo_);
    std::unique_ptr<Vmm> vmm_;
    std::unique_ptr<Router> router_;
    std::jthread thread_;
};

TEST_F(VmmApiFilesTest, RefusesADriveThatIsNotARegularFileOrBlockDeviceAndKeepsServing) {
    const std::pair<std::string, std::string> cases[] = {
        {fifo_, "is a FIFO, not a regular file or block device"},
        {link_, "is a FIFO, not a regular file or block device"},
        {dir_, "is a directory, not a regular file or block device"},
        {".", "is a directory, not a regular file or block device"},
        {"/dev/kmsg", "is a character device, not a regular file or block device"},
        {"/dev/null", "is a character device, not a regular file or block device"},
        {"/dev/zero", "is a character device, not a regular file or block device"},
        {"/dev/tty", "is a character device, not a regular file or block device"},
        {dir_ + "/none", "No such file or directory"},
    };
    for (const auto& [path, why] : cases) {
        for (const char* read_only : {"true", "false"}) {
            expect_fault(call(HttpMethod::kPut, "/drives/rootfs", drive(path, read_only)),
                         std::string("open disk: ").append(path).append(": ").append(why));
        }
    }
    EXPECT_EQ(call(HttpMethod::kGet, "/", "").status, 200);
    const std::string disk = dir_ + "/disk";
    std::ofstream(disk) << std::string(4096, '\0');
    EXPECT_EQ(call(HttpMethod::kPut, "/drives/rootfs", drive(disk)).status, 204);
}

// As Firecracker's build_boot_source: the kernel and initrd are opened at the PUT, and its words
// (an io::Error) answer a missing one. A FIFO, device or directory is refused unopened.
TEST_F(VmmApiFilesTest, RefusesABootSourceWhoseFilesCannotBeOpenedAtThePut) {
    auto boot = [&](const std::string& kernel, const std::string& initrd = {}) {
        std::string body = R"({"kernel_image_path": ")" + kernel + "\"";
        if (!initrd.empty()) body += R"(, "initrd_path": ")" + initrd + "\"";
        return call(HttpMethod::kPut, "/boot-source", body + "}");
    };
    HttpResponse missing = boot(dir_ + "/none");
    EXPECT_EQ(missing.status, 400);
    EXPECT_EQ(missing.body, R"x({"fault_message":"Boot source error: The kernel file cannot be )x"
                            R"x(opened: No such file or directory (os error 2)"})x");
    for (const std::string& path : {fifo_, link_, dir_, std::string("/dev/zero")}) {
        expect_fault(boot(path),
                     "Boot source error: The kernel file cannot be opened: " + path + ": is a");
    }
    const std::string kernel = dir_ + "/vmlinux";
    std::ofstream(kernel) << "kernel";
    expect_fault(boot(kernel, dir_ + "/none"),
                 "Boot source error: The initrd file cannot be opened: No such file or directory "
                 "(os error 2)");
    expect_fault(boot(kernel, fifo_), "The initrd file cannot be opened: " + fifo_ + ": is a FIFO");
    EXPECT_FALSE(vmm_->vm_config().boot_source);
    EXPECT_EQ(boot(kernel, kernel).status, 204);
    ASSERT_TRUE(vmm_->vm_config().boot_source);
}

TEST_F(VmmApiFilesTest, AcceptsAFifoWithNoReaderForTheLoggerAndMetrics) {
    EXPECT_EQ(call(HttpMethod::kPut, "/logger", R"({"log_path": ")" + link_ + R"("})").status, 204);
    EXPECT_EQ(call(HttpMethod::kPut, "/metrics", R"({"metrics_path": ")" + fifo_ + R"("})").status,
              204);
    // The metrics written at exit go nowhere: a FIFO with no reader must not block that.
    vmm_->request_exit(Vmm::kExitOk);
    thread_.join();
    router_.reset();
    vmm_.reset();
}

TEST_F(VmmApiFilesTest, RefusesADirectoryForTheLoggerAndMetrics) {
    const std::string why = ": is a directory, not a regular file, FIFO or character device";
    expect_fault(call(HttpMethod::kPut, "/logger", R"({"log_path": ")" + dir_ + R"("})"),
                 "open log file: " + dir_ + why);
    expect_fault(call(HttpMethod::kPut, "/metrics", R"({"metrics_path": "."})"),
                 "open metrics file: ." + why);
}

TEST_F(VmmApiFilesTest, AcceptsDevNullForTheLoggerAndMetrics) {
    EXPECT_EQ(call(HttpMethod::kPut, "/logger", R"({"log_path": "/dev/null"})").status, 204);
    EXPECT_EQ(call(HttpMethod::kPut, "/metrics", R"({"metrics_path": "/dev/null"})").status, 204);
}

TEST_F(VmmApiFilesTest, RefusesAFifoAsTheSnapshotToLoad) {
    expect_fault(call(HttpMethod::kPut, "/snapshot/load",
                      R"({"snapshot_path": ")" + fifo_ + R"(", "mem_file_path": "/m"})"),
                 "open snapshot state file: " + fifo_ + ": is a FIFO, not a regular file");
}

}  // namespace
}  // namespace ember::api
