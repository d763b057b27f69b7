// Firecracker's words around each API request (parsed_request.rs describe(), mod.rs), which its
// framework waits on, and its deprecation warning and header.
#include "api/request_log.h"

#include <gtest/gtest.h>

#include "api/router.h"
#include "tests/fakes/fake_vmm_controller.h"

namespace ember::api {
namespace {

HttpRequest request(HttpMethod method, const char* name, std::string path, std::string body) {
    return HttpRequest{method, name, std::move(path), std::move(body)};
}

TEST(DebugQuoted, EscapesAsRustsDebugOfAString) {
    EXPECT_EQ(debug_quoted("plain"), R"("plain")");
    EXPECT_EQ(debug_quoted("{\"a\": \"b\\c\"}\n\t\r"), R"("{\"a\": \"b\\c\"}\n\t\r")");
    EXPECT_EQ(debug_quoted(std::string("nul\0bell\x07", 9)), R"("nul\0bell\u{7}")");
    EXPECT_EQ(debug_quoted("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
}

TEST(DescribeRequest, IsMethodPathAndBodyAsFirecrackerLogsThem) {
    EXPECT_EQ(describe_request(request(HttpMethod::kGet, "GET", "/", ""), false),
              R"(Get request on "/")");
    EXPECT_EQ(
        describe_request(
            request(HttpMethod::kPut, "PUT", "/drives/rootfs", R"({"drive_id": "rootfs"})"), false),
        R"(Put request on "/drives/rootfs" with body "{\"drive_id\": \"rootfs\"}")");
    EXPECT_EQ(describe_request(request(HttpMethod::kPatch, "PATCH", "/vm", "{}"), false),
              R"(Patch request on "/vm" with body "{}")");
    EXPECT_EQ(describe_request(request(HttpMethod::kOther, "DELETE", "/x", ""), false),
              R"(Delete request on "/x")");
    // MMDS data is never logged; a body that is not UTF-8 is named, not copied.
    EXPECT_EQ(describe_request(request(HttpMethod::kPut, "PUT", "/mmds", R"({"k": "v"})"), false),
              R"(Put request on "/mmds")");
    EXPECT_EQ(describe_request(request(HttpMethod::kPut, "PUT", "/mmds/config", "{}"), false),
              R"(Put request on "/mmds/config" with body "{}")");
    EXPECT_EQ(describe_request(request(HttpMethod::kPut, "PUT", "/x", "\xff"), false),
              R"(Put request on "/x" with body "inconvertible to UTF-8")");
    // A CPU template only at Debug.
    HttpRequest cpu = request(HttpMethod::kPut, "PUT", "/cpu-config", "{}");
    EXPECT_EQ(describe_request(cpu, false),
              R"(Put request on "/cpu-config". To view the CPU template received by the API, )"
              "configure log-level to DEBUG");
    EXPECT_EQ(describe_request(cpu, true), R"(Put request on "/cpu-config" with body "{}")");
}

TEST(DescribeOutcome, IsFirecrackersSuccessOrErrorLine) {
    EXPECT_EQ(describe_outcome(HttpResponse::no_content()),
              "The request was executed successfully. Status code: 204 No Content.");
    EXPECT_EQ(describe_outcome(HttpResponse::json("{}")),
              "The request was executed successfully. Status code: 200 OK.");
    EXPECT_EQ(describe_outcome(HttpResponse::fault("The kernel file cannot be opened: x")),
              "Received Error. Status code: 400 Bad Request. Message: The kernel file cannot be "
              "opened: x");
}

TEST(DeprecationMessage, NamesFirecrackersDeprecatedFields) {
    EXPECT_EQ(deprecation_message(request(HttpMethod::kPut, "PUT", "/machine-config",
                                          R"({"vcpu_count": 1, "cpu_template": "None"})")),
              "PUT /machine-config: cpu_template field is deprecated.");
    EXPECT_EQ(deprecation_message(request(HttpMethod::kPatch, "PATCH", "/machine-config",
                                          R"({"cpu_template": "T2"})")),
              "PATCH /machine-config: cpu_template field is deprecated.");
    EXPECT_EQ(deprecation_message(request(HttpMethod::kPut, "PUT", "/snapshot/load",
                                          R"({"snapshot_path": "s", "mem_file_path": "m"})")),
              "PUT /snapshot/load: mem_file_path field is deprecated.");
    EXPECT_FALSE(deprecation_message(
        request(HttpMethod::kPut, "PUT", "/machine-config", R"({"vcpu_count": 1})")));
    EXPECT_FALSE(deprecation_message(
        request(HttpMethod::kPut, "PUT", "/machine-config", R"({"cpu_template": null})")));
    EXPECT_FALSE(deprecation_message(
        request(HttpMethod::kPut, "PUT", "/snapshot/load", R"({"mem_backend": {}})")));
    EXPECT_FALSE(deprecation_message(request(HttpMethod::kPut, "PUT", "/machine-config", "{")));
}

TEST(DeprecationMessage, MmdsConfigV1ExplicitOrDefault) {
    const std::string v1 = "PUT /mmds/config: V1 is deprecated. Use V2 instead.";
    EXPECT_EQ(deprecation_message(request(HttpMethod::kPut, "PUT", "/mmds/config",
                                          R"({"network_interfaces": ["1"]})")),
              v1);
    EXPECT_EQ(deprecation_message(request(HttpMethod::kPut, "PUT", "/mmds/config",
                                          R"({"network_interfaces": ["1"], "version": "V1"})")),
              v1);
    EXPECT_FALSE(deprecation_message(request(HttpMethod::kPut, "PUT", "/mmds/config",
                                             R"({"network_interfaces": ["1"], "version": "V2"})")));
    EXPECT_FALSE(deprecation_message(request(HttpMethod::kPut, "PUT", "/mmds", "{}")));
}

TEST(Router, MarksAnswersToDeprecatedRequestsSuccessfulOrNot) {
    testing::FakeVmmController fake;
    Router router(fake);
    HttpResponse ok = router.handle(
        request(HttpMethod::kPatch, "PATCH", "/machine-config", R"({"cpu_template": "None"})"));
    EXPECT_EQ(ok.status, 204);
    EXPECT_TRUE(ok.deprecated);
    EXPECT_NE(serialize(ok, true).find("\r\nDeprecation: true\r\n"), std::string::npos);
    // As test_negative_snapshot_load_api: a valid request the VMM refuses keeps the header.
    fake.fail_with(Error::invalid("load", "no such snapshot"));
    HttpResponse refused =
        router.handle(request(HttpMethod::kPut, "PUT", "/snapshot/load",
                              R"({"snapshot_path": "s", "mem_file_path": "m"})"));
    EXPECT_EQ(refused.status, 400);
    EXPECT_TRUE(refused.deprecated);
    fake.fail_with(std::nullopt);
    HttpResponse plain = router.handle(request(HttpMethod::kGet, "GET", "/", ""));
    EXPECT_FALSE(plain.deprecated);
    EXPECT_EQ(serialize(plain, true).find("Deprecation"), std::string::npos);
    // Firecracker's deprecated_api.deprecated_http_api_calls: the two deprecated requests.
    EXPECT_EQ(router.counters().deprecated_http_api_calls.load(), 2u);
}

}  // namespace
}  // namespace ember::api
