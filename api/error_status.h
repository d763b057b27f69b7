// The HTTP status of each error kind: the one table that decides it, so that call sites in the
// VMM and the router say what went wrong (ErrorKind) and never which status to answer.
#pragma once

#include "vmm/base/result.h"

namespace ember::api {

int http_status(ErrorKind kind);

}  // namespace ember::api
