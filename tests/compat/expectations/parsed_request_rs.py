"""Status codes and fault texts from src/firecracker/src/api_server/parsed_request.rs and its
unit tests (the router, before any VMM action)."""

from replay_lib import Api, Group, Raw

P = "parsed_request.rs::"


def raw(method, path, body=None):
    head = f"{method} {path} HTTP/1.1\r\nContent-Type: application/json\r\n"
    if body is None:
        return (head + "\r\n").encode()
    return (head + f"Content-Length: {len(body)}\r\n\r\n{body}").encode()


router = Group("parsed_request", rows=[
    Raw(P + "test_invalid_get", "GET with a body refused", raw("GET", "/mmds", "body"),
        status=400, body_contains=["GET request cannot have a body."]),
    Raw(P + "test_invalid_put", "PUT without a body refused", raw("PUT", "/mmds"), status=400,
        body_contains=["Empty PUT request."]),
    Raw(P + "test_invalid_patch", "PATCH without a body refused", raw("PATCH", "/mmds"),
        status=400, body_contains=["Empty PATCH request."]),
    Api(P + "test_checked_id", "empty id refused", "PUT", "/drives/",
        {"drive_id": "", "path_on_host": "x", "is_root_device": False}, status=400,
        fault="The ID cannot be empty."),
    Api(P + "test_checked_id", "id with other characters refused", "PUT", "/drives/dummy!!",
        {"drive_id": "dummy!!", "path_on_host": "x", "is_root_device": False}, status=400,
        fault="API Resource IDs can only contain alphanumeric characters and underscores."),
    Api(P + "test_error_into_response", "unknown path: method and path named", "GET",
        "/nonexistent", status=400,
        fault="Invalid request method and/or path: GET nonexistent."),
    Api(P + "test_error_into_response", "body that is not JSON: serde's words", "PUT",
        "/boot-source", raw_body="invalid", status=400,
        fault="An error occurred when deserializing the json body of a request: "
              "expected value at line 1 column 1."),
    Api(P + "try_from (PUT /mmds with a sub-path)", "PUT /mmds/foo refused", "PUT", "/mmds/foo",
        {}, status=400, fault="Unrecognized PUT request path `foo`."),
    Api(P + "test_convert_to_response", "204 has no body", "PUT", "/machine-config",
        {"vcpu_count": 1, "mem_size_mib": 128}, status=204,
        headers={"content-length": False, "content-type": False}),
    Api(P + "test_convert_to_response", "200 is JSON", "GET", "/machine-config", status=200,
        headers={"content-type": "application/json"}),
    Api(P + "test_convert_to_response", "400 is a JSON fault_message", "PUT", "/boot-source",
        {}, status=400, headers={"content-type": "application/json"}),
    Api(P + "test_try_from_get_version", "GET /version", "GET", "/version", status=200),
    Api(P + "test_try_from_put_mmds", "PUT /mmds {}", "PUT", "/mmds", {}),
    Api(P + "test_try_from_patch_mmds", "PATCH /mmds {}", "PATCH", "/mmds", {}),
])

GROUPS = [router]
