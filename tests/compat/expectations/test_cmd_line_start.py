"""Expectations from tests/integration_tests/functional/test_cmd_line_start.py (and
test_api_server.py, test_cmd_line_parameters.py) that need no running guest."""

import json

from replay_lib import Api, Cli, Group, Log, Raw

F = "test_cmd_line_start.py::"
METADATA = {"latest": {"meta-data": {"ami-id": "ami-12345678", "reservation-id": "r-fea54097"}}}
METADATA_JSON = json.dumps(METADATA)
LOG = ["--log-path", "{dir}/cli.log", "--level", "Info"]


def limit_request(length):
    """curl -X PUT http://localhost/mmds/config -H 'Content-Length: N' -d 'some body', as sent."""
    return (f"PUT /mmds/config HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/8.5.0\r\n"
            f"Accept: application/json\r\nContent-Length: {length}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\n\r\nsome body").encode()


LIMIT = F + "test_config_start_with_limit"
payload_limit_custom = Group("cmdline_payload_limit_250", args=["--http-api-max-payload-size", "250"],
                             rows=[
    Raw(LIMIT, "body over the limit: 400 with a JSON error, connection kept", limit_request(260),
        status=400, headers={"connection": "keep-alive", "content-type": "application/json"},
        body_contains=['"error"', "Request payload with size 260 is larger than the limit of 250 "
                       "allowed by server.\nAll previous unanswered requests will be dropped."]),
])
DEFAULT_LIMIT = F + "test_config_with_default_limit"
payload_limit_default = Group("cmdline_payload_limit_default", rows=[
    Api(DEFAULT_LIMIT, "PUT /mmds within the limit", "PUT", "/mmds",
        {"latest": {"meta-data": {"ami-id": "abc"}}}),
    Raw(DEFAULT_LIMIT, "51201 bytes: 400 with a JSON error, connection kept", limit_request(51201),
        status=400, headers={"connection": "keep-alive", "content-type": "application/json"},
        body_contains=['"error"', "Request payload with size 51201 is larger than the limit of "
                       "51200 allowed by server.\nAll previous unanswered requests will be dropped."]),
])

META = F + "test_start_with_metadata"
start_with_metadata = Group("cmdline_metadata", files={"metadata.json": METADATA_JSON},
                            args=["--metadata", "{dir}/metadata.json"], rows=[
    Log(META, "log says the metadata was added", r"Successfully added metadata to mmds from file"),
    Api(META, "state is Not started", "GET", "/", status=200,
        json=lambda d: None if d.get("state") == "Not started" else f"state {d.get('state')!r}"),
    Api(META, "GET /mmds is the file's JSON", "GET", "/mmds", status=200, json=METADATA),
])

cli_metadata = Group("cmdline_metadata_errors", rows=[
    Cli(F + "test_start_with_metadata_limit", "--mmds-size-limit below the file: log and exit",
        ["--api-sock", "{dir}/api.sock", "--mmds-size-limit", "30", "--metadata",
         "{dir}/metadata.json"] + LOG, code="nonzero", files={"metadata.json": METADATA_JSON},
        log=r"Populating MMDS from file failed: The MMDS patch request doesn't fit\."),
    Cli(F + "test_start_with_metadata_default_limit",
        "MMDS limit defaults to the payload limit: log and exit",
        ["--api-sock", "{dir}/api.sock", "--http-api-max-payload-size", "30", "--metadata",
         "{dir}/metadata.json"] + LOG, code="nonzero", files={"metadata.json": METADATA_JSON},
        log=r"Populating MMDS from file failed: The MMDS patch request doesn't fit\."),
    Cli(F + "test_start_with_missing_metadata", "missing metadata file: log and exit",
        ["--api-sock", "{dir}/api.sock", "--metadata", "{dir}/metadata_nonexisting.json"] + LOG,
        code="nonzero",
        log=r"Unable to open or read from the mmds content file(.|\n)*No such file or directory"),
    Cli(F + "test_start_with_invalid_metadata", "invalid metadata JSON: log and exit",
        ["--api-sock", "{dir}/api.sock", "--metadata", "{dir}/metadata_invalid.json"] + LOG,
        code="nonzero", files={"metadata_invalid.json": '{"latest": {"meta-data": {'},
        log=r"MMDS error: metadata provided not valid json(.|\n)*EOF while parsing an object"),
    Cli(F + "test_config_bad_machine_config", "config file without vcpu_count: log and exit",
        ["--no-api", "--config-file", "{dir}/vm.json"] + LOG, code="nonzero",
        files={"vm.json": json.dumps({"boot-source": {"kernel_image_path": "vmlinux.bin"},
                                      "drives": [], "machine-config": {"mem_size_mib": 128}})},
        log=r"Configuration for VMM from one single json failed"),
    Cli(F + "test_config_bad_machine_config", "config file without mem_size_mib: log and exit",
        ["--no-api", "--config-file", "{dir}/vm.json"] + LOG, code="nonzero",
        files={"vm.json": json.dumps({"boot-source": {"kernel_image_path": "vmlinux.bin"},
                                      "drives": [], "machine-config": {"vcpu_count": 2}})},
        log=r"Configuration for VMM from one single json failed"),
    Cli("test_api_server.py::test_api_socket_in_use", "socket path in use: fixed message, exit",
        ["--api-sock", "{dir}/api.sock"] + LOG, code="nonzero", sockets=["api.sock"],
        log=r"Failed to open the API socket at: .*/api\.sock\. Check that it is not already used\."),
])

PARAMS = "test_cmd_line_parameters.py::"
metrics_twice = Group("cmdline_metrics_path_then_put_metrics", files={"metrics.ndjson": ""},
                      args=["--metrics-path", "{dir}/metrics.ndjson"], rows=[
    Api(PARAMS + "test_cli_metrics_path_if_metrics_initialized_twice_fail",
        "PUT /metrics after --metrics-path refused", "PUT", "/metrics",
        {"metrics_path": "{dir}/metrics.ndjson"}, status=400,
        fault="Reinitialization of metrics not allowed."),
])

GROUPS = [payload_limit_custom, payload_limit_default, start_with_metadata, cli_metadata,
          metrics_twice]
