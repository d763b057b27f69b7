#include "vmm/mmds/mmds_service.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/mmds/fake_clock.h"

namespace ember::mmds {
namespace {

// The bytes micro_http writes for a response Firecracker's MMDS builds.
std::string expected(const char* status, const char* type, const std::string& body,
                     const char* version = "HTTP/1.1", const std::string& extra = {}) {
    return std::string(version) + " " + status +
           " \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n" +
           (std::string(status) == "405" ? "Allow: GET, PUT\r\n" : "") + "Content-Type: " + type +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
}

class MmdsServiceTest : public ::testing::Test {
protected:
    void SetUp() override {
        // Firecracker's mod.rs populate_mmds document.
        ASSERT_TRUE(store_.put(R"({"name": {"first": "John", "second": "Doe"}, "age": 43,
            "phones": {"home": {"RO": "+401234567", "UK": "+441234567"},
            "mobile": "+442345678"}})"));
    }

    // One request that must be answered in full.
    std::string ask(MmdsService& service, const std::string& request) {
        std::string response;
        auto reply = service.respond(request, response);
        EXPECT_TRUE(reply);
        if (!reply) return {};
        EXPECT_EQ(reply->consumed, request.size());
        EXPECT_FALSE(reply->close);
        return response;
    }

    std::string token(MmdsService& service, const char* ttl = "60") {
        const std::string r = ask(service, std::string("PUT /latest/api/token HTTP/1.1\r\n"
                                                       "X-metadata-token-ttl-seconds: ") +
                                               ttl + "\r\n\r\n");
        return r.substr(r.find("\r\n\r\n") + 4);
    }

    FakeClock clock_;
    MmdsStore store_;
    const std::string json_ =
        R"({"age":43,"name":{"first":"John","second":"Doe"},"phones":{"home":{"RO":)"
        R"("+401234567","UK":"+441234567"},"mobile":"+442345678"}})";
};

TEST_F(MmdsServiceTest, V1ServesImdsTextByDefaultAndJsonOnRequest) {
    MmdsService service(store_, MmdsVersion::kV1, false);
    EXPECT_EQ(ask(service, "GET http://169.254.169.254/ HTTP/1.0\r\n\r\n"),
              expected("200", "text/plain", "age\nname/\nphones/", "HTTP/1.0"));
    EXPECT_EQ(ask(service, "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"),
              expected("200", "text/plain", "age\nname/\nphones/"));
    EXPECT_EQ(ask(service, "GET / HTTP/1.1\r\nAccept: application/json\r\n\r\n"),
              expected("200", "application/json", json_));
    EXPECT_EQ(ask(service, "GET /name/first HTTP/1.1\r\n\r\n"),
              expected("200", "text/plain", "John"));
    EXPECT_EQ(ask(service, "GET //phones///home/ HTTP/1.1\r\nHost: x\r\n\r\n"),
              expected("200", "text/plain", "RO\nUK"));
    EXPECT_EQ(service.counters().rx_no_token, 5u);
}

TEST_F(MmdsServiceTest, V1AcceptsAnyTokenAndCountsInvalidOnes) {
    MmdsService service(store_, MmdsVersion::kV1, false, &clock_);
    EXPECT_EQ(ask(service, "GET /name/first HTTP/1.1\r\nX-metadata-token: INVALID\r\n\r\n"),
              expected("200", "text/plain", "John"));
    EXPECT_EQ(service.counters().rx_invalid_token, 1u);
    const std::string t = token(service);
    ask(service, "GET /name/first HTTP/1.1\r\nX-aws-ec2-metadata-token: " + t + "\r\n\r\n");
    EXPECT_EQ(service.counters().rx_invalid_token, 1u);
    EXPECT_EQ(service.counters().rx_no_token, 0u);
}

TEST_F(MmdsServiceTest, ErrorsForMissingPathsAndUnsupportedTypes) {
    MmdsService service(store_, MmdsVersion::kV1, false);
    EXPECT_EQ(ask(service, "GET http://169.254.169.254/invalid HTTP/1.0\r\n\r\n"),
              expected("404", "text/plain", "Resource not found: /invalid.", "HTTP/1.0"));
    EXPECT_EQ(
        ask(service, "GET /age HTTP/1.1\r\n\r\n"),
        expected("501", "text/plain", "Cannot retrieve value. The value has an unsupported type."));
    EXPECT_EQ(ask(service, "GET /age HTTP/1.1\r\nAccept: application/json\r\n\r\n"),
              expected("200", "application/json", "43"));
    EXPECT_EQ(ask(service, "GET http:// HTTP/1.0\r\n\r\n"),
              expected("400", "text/plain", "Invalid URI.", "HTTP/1.0"));
    EXPECT_EQ(ask(service, "GET http://169.254.169.254 HTTP/1.0\r\n\r\n"),
              expected("400", "text/plain", "Invalid URI.", "HTTP/1.0"));
}

TEST_F(MmdsServiceTest, ImdsCompatIgnoresAcceptButEchoesIt) {
    MmdsService service(store_, MmdsVersion::kV1, true);
    EXPECT_EQ(ask(service, "GET /name HTTP/1.1\r\nAccept: application/json\r\n\r\n"),
              expected("200", "application/json", "first\nsecond"));
}

TEST_F(MmdsServiceTest, MethodsOtherThanGetAndPutAreNotAllowed) {
    for (auto version : {MmdsVersion::kV1, MmdsVersion::kV2}) {
        MmdsService service(store_, version, false);
        for (const char* method : {"PATCH", "POST", "DELETE", "HEAD"}) {
            EXPECT_EQ(
                ask(service, std::string(method) + " http://169.254.169.255/ HTTP/1.0\r\n\r\n"),
                expected("405", "text/plain", "Not allowed HTTP method.", "HTTP/1.0"));
        }
    }
}

TEST_F(MmdsServiceTest, V2RequiresAValidUnexpiredToken) {
    MmdsService service(store_, MmdsVersion::kV2, false, &clock_);
    EXPECT_EQ(ask(service, "GET / HTTP/1.1\r\n\r\n"),
              expected("401", "text/plain",
                       "No MMDS token provided. Use `X-metadata-token` or "
                       "`X-aws-ec2-metadata-token` header to specify the session token."));
    EXPECT_EQ(service.counters().rx_no_token, 1u);
    EXPECT_EQ(ask(service, "GET / HTTP/1.1\r\nX-metadata-token: foo\r\n\r\n"),
              expected("401", "text/plain", "MMDS token not valid."));
    EXPECT_EQ(service.counters().rx_invalid_token, 1u);

    const std::string put = ask(service,
                                "PUT /latest/api/token HTTP/1.1\r\n"
                                "x-METADATA-token-ttl-seconds: 1\r\n\r\n");
    const std::string t = put.substr(put.find("\r\n\r\n") + 4);
    EXPECT_EQ(put,
              expected("200", "text/plain", t, "HTTP/1.1", "x-METADATA-token-ttl-seconds: 1\r\n"));
    EXPECT_EQ(ask(service, "GET /name/first HTTP/1.1\r\nx-metadata-TOKEN:  " + t + " \r\n\r\n"),
              expected("200", "text/plain", "John"));
    clock_.advance_ms(1000);
    EXPECT_EQ(ask(service, "GET /name/first HTTP/1.1\r\nX-metadata-token: " + t + "\r\n\r\n"),
              expected("401", "text/plain", "MMDS token not valid."));
}

TEST_F(MmdsServiceTest, TokenRequestRules) {
    for (auto version : {MmdsVersion::kV1, MmdsVersion::kV2}) {
        MmdsService service(store_, version, false);
        EXPECT_EQ(ask(service, "PUT /latest/api/token HTTP/1.1\r\n\r\n"),
                  expected("400", "text/plain",
                           "Token time to live value not found. Use "
                           "`X-metadata-token-ttl-seconds` or "
                           "`X-aws-ec2-metadata-token-ttl-seconds` header to specify the token's "
                           "lifetime."));
        for (const char* header : {"X-Forwarded-For", "x-forwarded-for", "X-fOrWaRdEd-FoR"}) {
            EXPECT_EQ(ask(service, std::string("PUT http://169.254.169.254/latest/api/token "
                                               "HTTP/1.0\r\nX-metadata-token-ttl-seconds: 60\r\n") +
                                       header + ": 203.0.113.195\r\n\r\n"),
                      expected("400", "text/plain",
                               std::string("Invalid header. Reason: Unsupported header name. "
                                           "Key: ") +
                                   header,
                               "HTTP/1.0"));
        }
        EXPECT_EQ(ask(service,
                      "PUT /latest/api/toke HTTP/1.1\r\n"
                      "X-metadata-token-ttl-seconds: 60\r\n\r\n"),
                  expected("404", "text/plain", "Resource not found: /latest/api/toke."));
        EXPECT_EQ(ask(service,
                      "PUT /latest/api/token HTTP/1.1\r\n"
                      "X-metadata-token-ttl-seconds: application/json\r\n\r\n"),
                  expected("400", "text/plain",
                           "Invalid header. Reason: Invalid value. "
                           "Key:X-metadata-token-ttl-seconds; Value:application/json"));
        for (const char* ttl : {"0", "21601"}) {
            EXPECT_EQ(ask(service, std::string("PUT /latest/api/token HTTP/1.1\r\n"
                                               "X-aws-ec2-metadata-token-ttl-seconds: ") +
                                       ttl + "\r\n\r\n"),
                      expected("400", "text/plain",
                               std::string("Invalid time to live value provided for token: ") +
                                   ttl + ". Please provide a value between 1 and 21600."));
        }
        EXPECT_EQ(token(service, "21600").size(), 48u);
        EXPECT_EQ(token(service, "+1").size(), 48u);
        // The TTL header is only read on PUT.
        EXPECT_EQ(ask(service, "GET /name/first HTTP/1.1\r\nX-metadata-token: " + token(service) +
                                   "\r\nX-metadata-token-ttl-seconds: application/json\r\n\r\n"),
                  expected("200", "text/plain", "John"));
    }
}

TEST_F(MmdsServiceTest, MalformedRequestsAreAnsweredAsMicroHttpDoes) {
    MmdsService service(store_, MmdsVersion::kV1, false);
    const auto bad = [](const char* status, const char* body) {
        return expected(status, "application/json", body);
    };
    EXPECT_EQ(ask(service, "GET\r\n\r\n"), bad("400", "Invalid request."));
    EXPECT_EQ(ask(service, "GET /a HTTP/1.1\n\n"), bad("400", "Invalid request."));
    EXPECT_EQ(ask(service, "GETTING-LONG-LINE\r\n\r\n"), bad("400", "Invalid request."));
    EXPECT_EQ(ask(service, "BREW / HTTP/1.1\r\n\r\n"), bad("501", "Unsupported HTTP method."));
    EXPECT_EQ(ask(service, "GET  HTTP/1.1 x\r\n\r\n"), bad("400", "Empty URI not allowed."));
    EXPECT_EQ(ask(service, "GET /\xff HTTP/1.1\r\n\r\n"), bad("400", "Cannot parse URI as UTF-8."));
    EXPECT_EQ(ask(service, "GET / HTTP/2.0\r\n\r\n"), bad("501", "Unsupported HTTP version."));
    EXPECT_EQ(ask(service, "GET / HTTP/1.1\r\nNoColon\r\n\r\n"),
              bad("400", "Header is incorrectly formatted. Key: NoColon"));
    EXPECT_EQ(ask(service, "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"),
              bad("400", "Invalid value. Key:Content-Length; Value: x"));
    EXPECT_EQ(ask(service, "GET / HTTP/1.1\r\nAccept-Encoding: identity;q=0\r\n\r\n"),
              bad("400", "Invalid value. Key:Accept-Encoding; Value:identity;q=0"));
    EXPECT_EQ(ask(service, "GET / HTTP/1.1\r\nX: \xc3\r\n\r\n"), bad("400", "Invalid request."));
}

TEST_F(MmdsServiceTest, ABodyIsRefusedAndConsumedNotAwaited) {
    // Firecracker's test_guest_mmds_hang: Content-Length larger than the body sent.
    MmdsService service(store_, MmdsVersion::kV1, false);
    const std::string head =
        "GET / HTTP/1.1\r\nContent-Length: 100\r\nAccept: application/json\r\n\r\n";
    std::string response;
    auto reply = service.respond(head + "some body", response);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->consumed, head.size() + 9);
    EXPECT_EQ(response, expected("400", "application/json", "Invalid request."));
    // A body that is all there is consumed exactly, leaving the next request.
    const std::string two =
        "GET / HTTP/1.1\r\nContent-Length: 2\r\n\r\nabGET /age HTTP/1.1\r\n\r\n";
    response.clear();
    reply = service.respond(two, response);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->consumed, two.find("abGET") + 2);
}

TEST_F(MmdsServiceTest, PipelinedRequestsAreAnsweredOneAtATime) {
    MmdsService service(store_, MmdsVersion::kV1, false);
    const std::string first = "GET /name/first HTTP/1.1\r\n\r\n";
    const std::string second = "GET /name/second HTTP/1.1\r\nAccept: application/json\r\n\r\n";
    std::string buffer = first + second;
    std::string response;
    auto reply = service.respond(buffer, response);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->consumed, first.size());
    EXPECT_EQ(response, expected("200", "text/plain", "John"));
    buffer.erase(0, reply->consumed);
    response.clear();
    reply = service.respond(buffer, response);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->consumed, second.size());
    EXPECT_EQ(response, expected("200", "application/json", R"("Doe")"));
}

TEST_F(MmdsServiceTest, IncompleteRequestsWait) {
    MmdsService service(store_, MmdsVersion::kV1, false);
    const std::string request = "GET /name/first HTTP/1.1\r\nAccept: text/plain\r\n\r\n";
    for (size_t n = 0; n < request.size(); ++n) {
        std::string response;
        EXPECT_FALSE(service.respond(request.substr(0, n), response)) << n;
        EXPECT_TRUE(response.empty());
    }
    EXPECT_EQ(ask(service, request), expected("200", "text/plain", "John"));
}

TEST_F(MmdsServiceTest, OversizedRequestsAreRefusedAndClosed) {
    MmdsService service(store_, MmdsVersion::kV1, false);
    std::string request = "GET /" + std::string(Responder::kMaxRequestBytes, 'a');
    std::string response;
    EXPECT_FALSE(service.respond(request.substr(0, Responder::kMaxRequestBytes - 1), response));
    auto reply = service.respond(request, response);
    ASSERT_TRUE(reply);
    EXPECT_TRUE(reply->close);
    EXPECT_EQ(reply->consumed, request.size());
    EXPECT_EQ(response, expected("400", "application/json", "Invalid request."));
    // A request that ends past the bound is oversized too.
    request += " HTTP/1.1\r\n\r\n";
    response.clear();
    reply = service.respond(request, response);
    ASSERT_TRUE(reply);
    EXPECT_TRUE(reply->close);
}

TEST_F(MmdsServiceTest, ServesAStoreChangedAfterConstruction) {
    MmdsStore store;
    MmdsService service(store, MmdsVersion::kV1, false);
    EXPECT_EQ(ask(service, "GET / HTTP/1.1\r\nAccept: application/json\r\n\r\n"),
              expected("200", "application/json", "null"));
    EXPECT_EQ(
        ask(service, "GET / HTTP/1.1\r\n\r\n"),
        expected("501", "text/plain", "Cannot retrieve value. The value has an unsupported type."));
    ASSERT_TRUE(store.put(R"({"latest": {"meta-data": {"ami-id": "ami-12345678"}}})"));
    EXPECT_EQ(ask(service, "GET /latest/meta-data/ami-id/ HTTP/1.1\r\n\r\n"),
              expected("200", "text/plain", "ami-12345678"));
    EXPECT_EQ(ask(service, "GET /latest/ HTTP/1.1\r\n\r\n"),
              expected("200", "text/plain", "meta-data/"));
}

}  // namespace
}  // namespace ember::mmds
