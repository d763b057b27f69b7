#include "api/error_status.h"

namespace ember::api {
namespace {

struct KindStatus {
    ErrorKind kind;
    int status;
};

// Firecracker answers every refused request with 400 Bad Request and a fault_message, whatever
// the cause (its VmmActionError has no other status), and clients match on that. A kind moves to
// 404, 409 or 500 here, and only here, if Firecracker's API ever does. The one exception it has:
// a PUT or PATCH /mmds over the data store's limit is 413 (MmdsLimitExceeded).
constexpr KindStatus kStatusOfKind[] = {
    {ErrorKind::kInvalidInput, 400}, {ErrorKind::kWrongPhase, 400}, {ErrorKind::kNotFound, 400},
    {ErrorKind::kUnsupported, 400},  {ErrorKind::kInternal, 400},   {ErrorKind::kTooLarge, 413},
};

}  // namespace

int http_status(ErrorKind kind) {
    for (const KindStatus& entry : kStatusOfKind) {
        if (entry.kind == kind) return entry.status;
    }
    return 500;  // A kind missing from the table is a bug here, not the caller's.
}

}  // namespace ember::api
