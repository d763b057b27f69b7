// The kind -> HTTP status table: Firecracker's 400 for every refused request, whatever its kind.
#include "api/error_status.h"

#include <gtest/gtest.h>

#include "api/router.h"
#include "tests/fakes/fake_vmm_controller.h"
#include "tests/unit/api/test_request.h"

namespace ember::api {
namespace {

TEST(ErrorStatus, EveryKindAnswersBadRequestAsFirecrackerDoes) {
    for (ErrorKind kind : {ErrorKind::kInvalidInput, ErrorKind::kWrongPhase, ErrorKind::kNotFound,
                           ErrorKind::kUnsupported, ErrorKind::kInternal}) {
        EXPECT_EQ(http_status(kind), 400) << static_cast<int>(kind);
    }
}

// Firecracker's MmdsLimitExceeded: the data store's size limit is the one 413.
TEST(ErrorStatus, AnMmdsStoreOverItsLimitIsPayloadTooLarge) {
    EXPECT_EQ(http_status(ErrorKind::kTooLarge), 413);
}

// The answer's bytes do not depend on the kind: status line, headers and fault_message.
TEST(ErrorStatus, ControllerErrorsOfEveryKindGiveTheSameBytes) {
    const Error errors[] = {
        Error::invalid("drive_id", "no drive 'x'"),
        Error::not_found("drive_id", "no drive 'x'"),
    };
    for (const Error& error : errors) {
        testing::FakeVmmController fake;
        fake.fail_with(error);
        Router router(fake);
        HttpResponse r =
            router.handle(make_request(HttpMethod::kPatch, "/drives/x", R"({"drive_id": "x"})"));
        std::string wire = serialize(r, true);
        EXPECT_EQ(wire,
                  "HTTP/1.1 400 Bad Request\r\nServer: Firecracker API\r\n"
                  "Connection: keep-alive\r\nContent-Type: application/json\r\n"
                  "Content-Length: 42\r\n\r\n"
                  R"({"fault_message":"drive_id: no drive 'x'"})");
    }
    testing::FakeVmmController fake;
    fake.fail_with(Error::wrong_phase("pause", "the VM is not started"));
    Router router(fake);
    HttpResponse r =
        router.handle(make_request(HttpMethod::kPatch, "/vm", R"({"state": "Paused"})"));
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.body,
              R"({"fault_message":"pause: the VM is not started: Operation not permitted"})");
}

}  // namespace
}  // namespace ember::api
