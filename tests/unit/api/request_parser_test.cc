#include "api/http/request_parser.h"

#include <gtest/gtest.h>

namespace ember::api {
namespace {

// Feeds `text` whole; returns the status and leaves the rest in `text`.
RequestParser::Status feed_all(RequestParser& parser, std::string& text) {
    size_t consumed = 0;
    auto status = parser.feed(text, consumed);
    text.erase(0, consumed);
    return status;
}

TEST(RequestParser, ParsesMethodPathAndBody) {
    RequestParser parser(RequestLimits{});
    std::string text = "PUT /drives/root?x=1 HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
    ASSERT_EQ(feed_all(parser, text), RequestParser::Status::kRequestReady);
    EXPECT_TRUE(parser.keep_alive());
    HttpRequest r = parser.take_request();
    EXPECT_EQ(r.method, HttpMethod::kPut);
    EXPECT_EQ(r.method_name, "PUT");
    EXPECT_EQ(r.path, "/drives/root");
    EXPECT_EQ(r.body, "{}");
    EXPECT_TRUE(text.empty());
}

TEST(RequestParser, StopsAfterOneRequestAndParsesTheNextAfterTake) {
    RequestParser parser(RequestLimits{});
    std::string text = "GET / HTTP/1.1\r\n\r\nGET /version HTTP/1.1\r\n\r\n";
    ASSERT_EQ(feed_all(parser, text), RequestParser::Status::kRequestReady);
    EXPECT_EQ(parser.take_request().path, "/");
    EXPECT_FALSE(text.empty());
    ASSERT_EQ(feed_all(parser, text), RequestParser::Status::kRequestReady);
    EXPECT_EQ(parser.take_request().path, "/version");
}

TEST(RequestParser, AssemblesARequestFedOneByteAtATime) {
    RequestParser parser(RequestLimits{});
    std::string text = "PATCH /vm HTTP/1.1\r\nContent-Length: 20\r\n\r\n{\"state\": \"Paused\"}\n";
    for (size_t i = 0; i + 1 < text.size(); ++i) {
        size_t consumed = 0;
        ASSERT_EQ(parser.feed(std::string_view(text).substr(i, 1), consumed),
                  RequestParser::Status::kNeedMore);
        ASSERT_EQ(consumed, 1u);
    }
    size_t consumed = 0;
    ASSERT_EQ(parser.feed(std::string_view(text).substr(text.size() - 1), consumed),
              RequestParser::Status::kRequestReady);
    EXPECT_EQ(parser.take_request().body, "{\"state\": \"Paused\"}\n");
}

TEST(RequestParser, HonoursConnectionClose) {
    RequestParser parser(RequestLimits{});
    std::string text = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
    ASSERT_EQ(feed_all(parser, text), RequestParser::Status::kRequestReady);
    EXPECT_FALSE(parser.keep_alive());
}

// As micro_http: 400 with its words as soon as the headers are in, the body then counted past
// (never held), and the next request on the connection parsed as usual.
TEST(RequestParser, RejectsABodyOverTheLimitFromItsHeadersAndGoesOn) {
    RequestParser parser(RequestLimits{.max_body_bytes = 10});
    std::string text = "PUT /x HTTP/1.1\r\nContent-Length: 11\r\n\r\n";
    ASSERT_EQ(feed_all(parser, text), RequestParser::Status::kRequestReady);
    ASSERT_TRUE(parser.rejection());
    EXPECT_EQ(parser.rejection()->status, 400);
    EXPECT_EQ(parser.rejection()->body,
              "{ \"error\": \"Request payload with size 11 is larger than the limit of 10 "
              "allowed by server.\nAll previous unanswered requests will be dropped.\" }");
    EXPECT_TRUE(parser.take_request().body.empty());
    EXPECT_FALSE(parser.rejection());
    EXPECT_TRUE(parser.discarding());
    EXPECT_TRUE(parser.mid_request());
    std::string rest = text + "{\"a\": 1234}GET /y HTTP/1.1\r\n\r\n";
    ASSERT_EQ(feed_all(parser, rest), RequestParser::Status::kRequestReady);
    EXPECT_FALSE(parser.rejection());
    EXPECT_FALSE(parser.discarding());
    EXPECT_EQ(parser.take_request().path, "/y");
}

TEST(RequestParser, AbandonedBodyLetsTheNextRequestStartAfresh) {
    RequestParser parser(RequestLimits{.max_body_bytes = 250});
    std::string text = "PUT /mmds/config HTTP/1.1\r\nContent-Length: 260\r\n\r\nsome body";
    ASSERT_EQ(feed_all(parser, text), RequestParser::Status::kRequestReady);
    ASSERT_TRUE(parser.rejection());
    parser.take_request();
    ASSERT_EQ(feed_all(parser, text), RequestParser::Status::kNeedMore);
    EXPECT_TRUE(text.empty());
    parser.abandon_body();
    EXPECT_FALSE(parser.discarding());
    EXPECT_FALSE(parser.mid_request());
    std::string next = "GET / HTTP/1.1\r\n\r\n";
    ASSERT_EQ(feed_all(parser, next), RequestParser::Status::kRequestReady);
    EXPECT_FALSE(parser.rejection());
    EXPECT_EQ(parser.take_request().path, "/");
}

TEST(RequestParser, RejectsABodyOverFirecrackersDefaultOf51200Bytes) {
    EXPECT_EQ(RequestLimits::kDefaultMaxBodyBytes, 51200u);
    RequestParser parser(RequestLimits{});
    std::string text = "PUT /x HTTP/1.1\r\nContent-Length: 51201\r\n\r\n";
    ASSERT_EQ(feed_all(parser, text), RequestParser::Status::kRequestReady);
    ASSERT_TRUE(parser.rejection());
    EXPECT_NE(parser.rejection()->body.find("size 51201 is larger than the limit of 51200"),
              std::string::npos);
    parser.take_request();
    std::string body = text + std::string(51201, 'x');
    ASSERT_EQ(feed_all(parser, body), RequestParser::Status::kNeedMore);
    EXPECT_LT(parser.buffered_bytes(), 100u);  // Nothing of the body is kept.
    EXPECT_FALSE(parser.discarding());
    EXPECT_FALSE(parser.mid_request());
}

TEST(RequestParser, HoldsNoMoreThanTheLimitsOfARequestUnderWay) {
    RequestLimits limits{.max_header_bytes = 1000, .max_body_bytes = 5000};
    RequestParser parser(limits);
    std::string text =
        "PUT /" + std::string(900, 'u') + " HTTP/1.1\r\nContent-Length: 5000\r\n\r\n";
    ASSERT_EQ(feed_all(parser, text), RequestParser::Status::kNeedMore);
    text = std::string(4999, 'b');
    ASSERT_EQ(feed_all(parser, text), RequestParser::Status::kNeedMore);
    EXPECT_LE(parser.buffered_bytes(), limits.max_header_bytes + limits.max_body_bytes);
    EXPECT_GE(parser.buffered_bytes(), 900u + 4999u);
}

TEST(RequestParser, RefusesHeadersOverTheLimitWhileTheyArrive) {
    RequestParser parser(RequestLimits{.max_header_bytes = 100});
    std::string text = "GET / HTTP/1.1\r\n";
    ASSERT_EQ(feed_all(parser, text), RequestParser::Status::kNeedMore);
    text = "X: " + std::string(200, 'v');
    ASSERT_EQ(feed_all(parser, text), RequestParser::Status::kError);
    EXPECT_EQ(parser.error().status, 400);
}

TEST(RequestParser, RefusesManyShortHeadersOverTheLimit) {
    RequestParser parser(RequestLimits{.max_header_bytes = 100});
    std::string text = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < 50; ++i) text += "A: b\r\n";
    EXPECT_EQ(feed_all(parser, text), RequestParser::Status::kError);
}

TEST(RequestParser, RefusesGarbage) {
    RequestParser parser(RequestLimits{});
    std::string text = "\x01\x02 / HTTP/1.1\r\n\r\n";
    ASSERT_EQ(feed_all(parser, text), RequestParser::Status::kError);
    EXPECT_EQ(parser.error().status, 400);
    EXPECT_NE(parser.error().body.find("fault_message"), std::string::npos);
}

TEST(RequestParser, MapsUnknownMethodsToOther) {
    RequestParser parser(RequestLimits{});
    std::string text = "DELETE /drives/a HTTP/1.1\r\n\r\n";
    ASSERT_EQ(feed_all(parser, text), RequestParser::Status::kRequestReady);
    HttpRequest r = parser.take_request();
    EXPECT_EQ(r.method, HttpMethod::kOther);
    EXPECT_EQ(r.method_name, "DELETE");
}

}  // namespace
}  // namespace ember::api
