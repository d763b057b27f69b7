// Strings in request bodies and config files: a NUL inside any string field is refused with the
// field named (it would cut a path or name short at the syscall), invalid UTF-8 is a 400, and
// answers stay valid UTF-8 whatever they quote.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/config_file.h"
#include "api/json/json_reader.h"
#include "api/json/request_json.h"
#include "api/router.h"
#include "tests/fakes/fake_vmm_controller.h"
#include "tests/unit/api/test_request.h"

namespace ember::api {
namespace {

// One request whose body carries a NUL (the JSON escape \u0000) in `field`.
struct NulCase {
    HttpMethod method;
    const char* path;
    const char* body;
    const char* field;  // As the fault_message names it.
};

constexpr NulCase kNulCases[] = {
    {HttpMethod::kPut, "/boot-source", R"({"kernel_image_path": "/k\u0000.bak"})",
     "kernel_image_path"},
    {HttpMethod::kPut, "/boot-source", R"({"kernel_image_path": "/k", "initrd_path": "/i\u0000"})",
     "initrd_path"},
    {HttpMethod::kPut, "/boot-source", R"({"kernel_image_path": "/k", "boot_args": "a\u0000b"})",
     "boot_args"},
    {HttpMethod::kPut, "/drives/rootfs",
     R"({"drive_id": "rootfs", "path_on_host": "/r.ext4\u0000.x", "is_root_device": true})",
     "path_on_host"},
    {HttpMethod::kPut, "/drives/rootfs",
     R"({"drive_id": "root\u0000fs", "path_on_host": "/r", "is_root_device": true})", "drive_id"},
    {HttpMethod::kPatch, "/drives/rootfs", R"({"drive_id": "rootfs", "path_on_host": "/\u0000"})",
     "path_on_host"},
    {HttpMethod::kPut, "/network-interfaces/eth0",
     R"({"iface_id": "eth0", "host_dev_name": "tap0\u0000"})", "host_dev_name"},
    {HttpMethod::kPut, "/network-interfaces/eth0",
     R"({"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "\u0000"})", "guest_mac"},
    {HttpMethod::kPut, "/logger", R"({"log_path": "/l\u0000og"})", "log_path"},
    {HttpMethod::kPut, "/logger", R"({"log_path": "/log", "module": "api\u0000"})", "module"},
    {HttpMethod::kPut, "/metrics", R"({"metrics_path": "/m\u0000"})", "metrics_path"},
    {HttpMethod::kPut, "/serial", R"({"serial_out_path": "/s\u0000"})", "serial_out_path"},
    {HttpMethod::kPut, "/snapshot/create",
     R"({"snapshot_path": "/s\u0000", "mem_file_path": "/m"})", "snapshot_path"},
    {HttpMethod::kPut, "/snapshot/create",
     R"({"snapshot_path": "/s", "mem_file_path": "/m\u0000"})", "mem_file_path"},
    {HttpMethod::kPut, "/snapshot/load", R"({"snapshot_path": "/s\u0000", "mem_file_path": "/m"})",
     "snapshot_path"},
    {HttpMethod::kPut, "/snapshot/load", R"({"snapshot_path": "/s", "mem_file_path": "/m\u0000"})",
     "mem_file_path"},
    {HttpMethod::kPut, "/snapshot/load",
     R"({"snapshot_path": "/s", "mem_backend": {"backend_type": "Uffd",
         "backend_path": "/sock\u0000"}})",
     "mem_backend.backend_path"},
    {HttpMethod::kPut, "/snapshot/load",
     R"({"snapshot_path": "/s", "mem_file_path": "/m",
         "network_overrides": [{"iface_id": "eth0", "host_dev_name": "tap\u00001"}]})",
     "network_overrides[0].host_dev_name"},
};

class JsonStringsTest : public ::testing::Test {
protected:
    HttpResponse call(HttpMethod method, std::string path, std::string body) {
        return router.handle(make_request(method, std::move(path), std::move(body)));
    }

    testing::FakeVmmController fake;
    Router router{fake};
};

TEST_F(JsonStringsTest, RefusesANulInEveryStringFieldAndNamesTheField) {
    for (const NulCase& c : kNulCases) {
        HttpResponse r = call(c.method, c.path, c.body);
        EXPECT_EQ(r.status, 400) << c.path << " " << c.field;
        EXPECT_EQ(r.body, std::string(R"({"fault_message":"An error occurred when deserializing )"
                                      R"(the json body of a request: `)") +
                              c.field + R"x(` must not contain a NUL character (\\u0000)."})x")
            << c.body;
    }
}

TEST(ParseVmConfig, RefusesANulInAConfigFilePath) {
    auto config = parse_vm_config(R"({"boot-source": {"kernel_image_path": "/k"},
        "drives": [{"drive_id": "rootfs", "path_on_host": "/r\u0000", "is_root_device": true}]})");
    ASSERT_FALSE(config);
    EXPECT_EQ(describe(config.error()),
              "`drives[0].path_on_host` must not contain a NUL character (\\u0000)");
}

// Bodies whose strings are not UTF-8: a lone continuation byte, a 0xff, an overlong '/', a UTF-16
// surrogate, a sequence cut short by the closing quote, and all of these in a key.
const std::vector<std::string> kInvalidUtf8 = {
    "\x80",
    "\xff",
    "\xc0\xaf",
    "\xed\xa0\x80",
    "\xe2\x82",
    "\xf4\x90\x80\x80",
    "a\xfe"  // NOLINT(bugprone-suspicious-missing-comma): "\xfeb" would be one escape.
    "b",
};

TEST_F(JsonStringsTest, AnswersInvalidUtf8InAValueWith400) {
    for (const std::string& bad : kInvalidUtf8) {
        std::string body =
            R"({"drive_id": "rootfs", "path_on_host": "/r)" + bad + R"(", "is_root_device": true})";
        HttpResponse r = call(HttpMethod::kPut, "/drives/rootfs", body);
        EXPECT_EQ(r.status, 400);
        EXPECT_EQ(r.body.rfind(R"({"fault_message":"An error occurred when deserializing the json )"
                               R"(body of a request: invalid UTF-8 in a string at offset )",
                               0),
                  0u)
            << r.body;
    }
}

TEST_F(JsonStringsTest, AnswersInvalidUtf8InAKeyWith400) {
    for (const std::string& bad : kInvalidUtf8) {
        HttpResponse r = call(HttpMethod::kPut, "/logger", "{\"log" + bad + "\": \"/l\"}");
        EXPECT_EQ(r.status, 400);
        EXPECT_NE(r.body.find("invalid UTF-8 in a string"), std::string::npos) << r.body;
    }
}

TEST(ParseVmConfig, RefusesInvalidUtf8InAConfigFile) {
    auto config = parse_vm_config("{\"boot-source\": {\"kernel_image_path\": \"/k\xff\"}}");
    ASSERT_FALSE(config);
    EXPECT_EQ(describe(config.error()), "invalid UTF-8 in a string at offset 41");
}

TEST(ParseVmConfig, AcceptsValidMultiByteUtf8) {
    auto config = parse_vm_config(
        "{\"boot-source\": {\"kernel_image_path\": \"/k\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\xa5\"}}");
    ASSERT_TRUE(config) << config.error().message();
    EXPECT_EQ(config->boot_source->kernel_image_path, "/k\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\xa5");
}

TEST(ToValidUtf8, ReplacesEachBadByteAndKeepsGoodSequences) {
    EXPECT_EQ(to_valid_utf8("plain"), "plain");
    EXPECT_EQ(to_valid_utf8("\xc3\xa9\xf0\x9f\x94\xa5"), "\xc3\xa9\xf0\x9f\x94\xa5");
    EXPECT_EQ(to_valid_utf8("a\xff"
                            "b"),
              "a\xef\xbf\xbd"
              "b");
    EXPECT_EQ(to_valid_utf8("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    EXPECT_EQ(to_valid_utf8("\xe2\x82"), "\xef\xbf\xbd\xef\xbf\xbd");
    EXPECT_EQ(to_valid_utf8(std::string("a\0b", 3)), std::string("a\0b", 3));
}

TEST(RenderFault, StaysValidUtf8WhenTheMessageIsNot) {
    EXPECT_EQ(render_fault("Invalid request method and/or path: PUT /x\xff."),
              "{\"fault_message\":\"Invalid request method and/or path: PUT /x\xef\xbf\xbd.\"}");
}

}  // namespace
}  // namespace ember::api
