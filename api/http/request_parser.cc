#include "api/http/request_parser.h"

#include <fmt/core.h>
#include <strings.h>

namespace ember::api {
namespace {

RequestParser* self(http_parser* p) { return static_cast<RequestParser*>(p->data); }

}  // namespace

std::string payload_too_large(uint64_t size, size_t limit) {
    return fmt::format(
        "Request payload with size {} is larger than the limit of {} allowed by "
        "server.",
        size, limit);
}

HttpResponse payload_rejection(uint64_t size, size_t limit) {
    // micro_http's answer to any parse error, byte for byte (its raw newline included).
    return {400,
            fmt::format("{{ \"error\": \"{}\nAll previous unanswered requests will be "
                        "dropped.\" }}",
                        payload_too_large(size, limit)),
            false};
}

namespace {

HttpMethod method_of(unsigned method) {
    switch (method) {
        case HTTP_GET: return HttpMethod::kGet;
        case HTTP_PUT: return HttpMethod::kPut;
        case HTTP_PATCH: return HttpMethod::kPatch;
        default: return HttpMethod::kOther;
    }
}

}  // namespace

RequestParser::RequestParser(RequestLimits limits) : limits_(limits) {
    http_parser_init(&parser_, HTTP_REQUEST);
    parser_.data = this;
    http_parser_settings_init(&settings_);
    settings_.on_message_begin = on_message_begin;
    settings_.on_url = on_url;
    settings_.on_header_field = on_header_field;
    settings_.on_header_value = on_header_value;
    settings_.on_headers_complete = on_headers_complete;
    settings_.on_body = on_body;
    settings_.on_message_complete = on_message_complete;
}

int RequestParser::fail(int status, std::string_view message) {
    failed_ = true;
    error_ = HttpResponse::fault(message, status);
    return -1;
}

bool RequestParser::count_header_bytes(size_t length) {
    header_bytes_ += length;
    return header_bytes_ <= limits_.max_header_bytes;
}

int RequestParser::on_message_begin(http_parser* p) {
    RequestParser* r = self(p);
    r->started_ = true;
    return 0;
}

int RequestParser::on_url(http_parser* p, const char* at, size_t length) {
    RequestParser* r = self(p);
    if (!r->count_header_bytes(length)) return r->fail(400, "Request line is too long.");
    r->url_.append(at, length);
    return 0;
}

int RequestParser::on_header_field(http_parser* p, const char* at, size_t length) {
    RequestParser* r = self(p);
    if (!r->count_header_bytes(length)) return r->fail(400, "Request headers are too long.");
    if (r->last_was_value_) r->header_field_.clear();
    r->last_was_value_ = false;
    // Only short names are of interest; a longer one can never match.
    if (r->header_field_.size() + length <= 32) r->header_field_.append(at, length);
    return 0;
}

int RequestParser::on_header_value(http_parser* p, const char*, size_t length) {
    RequestParser* r = self(p);
    if (!r->count_header_bytes(length)) return r->fail(400, "Request headers are too long.");
    if (!r->last_was_value_ && strcasecmp(r->header_field_.c_str(), "transfer-encoding") == 0) {
        r->transfer_encoding_ = true;
    }
    r->last_was_value_ = true;
    return 0;
}

int RequestParser::on_headers_complete(http_parser* p) {
    RequestParser* r = self(p);
    // micro_http, like Ember, knows bodies only by Content-Length.
    if (r->transfer_encoding_ || (p->flags & F_CHUNKED)) {
        return r->fail(400, "Transfer-Encoding is not supported.");
    }
    if (p->upgrade) return r->fail(400, "Connection upgrades are not supported.");
    http_parser_url parsed;
    http_parser_url_init(&parsed);
    if (http_parser_parse_url(r->url_.data(), r->url_.size(), 0, &parsed) != 0 ||
        !(parsed.field_set & (1 << UF_PATH))) {
        return r->fail(400, "Invalid URI.");
    }
    r->request_.path =
        r->url_.substr(parsed.field_data[UF_PATH].off, parsed.field_data[UF_PATH].len);
    r->request_.method = method_of(p->method);
    r->request_.method_name = http_method_str(static_cast<http_method>(p->method));
    r->keep_alive_ = http_should_keep_alive(p) != 0;
    r->headers_done_ = true;
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > r->limits_.max_body_bytes) {
        // As micro_http: answered now, from the headers, without waiting for the body, which is
        // then counted past, never kept.
        r->rejection_ = payload_rejection(p->content_length, r->limits_.max_body_bytes);
        r->discarding_ = true;
        r->complete_ = true;
        http_parser_pause(p, 1);
    }
    return 0;
}

int RequestParser::on_body(http_parser* p, const char* at, size_t length) {
    RequestParser* r = self(p);
    if (r->discarding_) return 0;
    // Only Content-Length frames a body (chunked is refused), so this is a second guard.
    if (r->request_.body.size() + length > r->limits_.max_body_bytes) {
        return r->fail(
            400, payload_too_large(r->request_.body.size() + length, r->limits_.max_body_bytes));
    }
    r->request_.body.append(at, length);
    return 0;
}

int RequestParser::on_message_complete(http_parser* p) {
    RequestParser* r = self(p);
    if (r->discarding_) {
        // The end of a body already answered: the next request begins.
        r->discarding_ = false;
        r->started_ = false;
        return 0;
    }
    r->complete_ = true;
    r->keep_alive_ = http_should_keep_alive(p) != 0;
    http_parser_pause(p, 1);  // One request at a time: the caller answers before reading more.
    return 0;
}

RequestParser::Status RequestParser::feed(std::string_view data, size_t& consumed) {
    consumed = 0;
    if (failed_) return Status::kError;
    if (complete_) return Status::kRequestReady;
    if (data.empty()) return Status::kNeedMore;
    consumed = http_parser_execute(&parser_, &settings_, data.data(), data.size());
    if (complete_) return Status::kRequestReady;
    if (failed_) return Status::kError;
    http_errno err = HTTP_PARSER_ERRNO(&parser_);
    if (err != HPE_OK) {
        fail(400, fmt::format("Invalid HTTP request: {}.", http_errno_description(err)));
        return Status::kError;
    }
    // The callbacks count the bytes of names and values; this also bounds the separators and
    // whitespace between them.
    if (!headers_done_ && parser_.nread > limits_.max_header_bytes) {
        fail(400, "Request headers are too long.");
        return Status::kError;
    }
    return Status::kNeedMore;
}

HttpRequest RequestParser::take_request() {
    HttpRequest out = std::move(request_);
    request_ = HttpRequest{};
    url_.clear();
    header_field_.clear();
    transfer_encoding_ = false;
    last_was_value_ = false;
    header_bytes_ = 0;
    started_ = false;
    headers_done_ = false;
    complete_ = false;
    // A rejected body still to come keeps the request under way until it has passed.
    started_ = discarding_;
    rejection_.reset();
    http_parser_pause(&parser_, 0);
    return out;
}

void RequestParser::abandon_body() {
    if (!discarding_) return;
    http_parser_init(&parser_, HTTP_REQUEST);
    parser_.data = this;
    discarding_ = false;
    started_ = false;
}

}  // namespace ember::api
