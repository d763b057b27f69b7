"""What Firecracker's test framework (tests/framework/microvm.py, http_api.py) waits on and
assumes when it spawns and drives a microVM, plus the CLI's own behaviour."""

import re

from replay_lib import Api, Cli, Group, Log, has_keys

M = "framework/microvm.py::"
REQUEST_LINE = re.compile(
    r"\] The API server received a (?P<method>\w+) request on \"(?P<url>(/(\w|-)*)+)\""
    r"( with body (?P<body>.*))?\.")
DURATION_LINE = re.compile(r"\] Total previous API call duration: (?P<execution_time>\d+) us.$")


def paired_request_durations(text):
    """microvm.py::_validate_api_response_times: each request line is followed by its duration
    line before the next request line (at Debug level)."""
    current, requests = None, 0
    for line in text.split("\n"):
        if REQUEST_LINE.search(line):
            if current is not None:
                return f"no duration line after {current!r}"
            current, requests = line, requests + 1
        if DURATION_LINE.search(line):
            if current is None:
                return f"duration line before any request line: {line!r}"
            current = None
    if requests < 3:
        return f"only {requests} request line(s) in the framework's format"
    return None if current is None else f"no duration line after {current!r}"


spawn = Group("framework_spawn", files={"serial.log": ""}, args=["--id", "fcreplay"], rows=[
    Log(M + "spawn", "'API server started.' logged once the socket is up",
        r"API server started\."),
    Api(M + "spawn", "PUT /serial on every spawn", "PUT", "/serial",
        {"serial_out_path": "{dir}/serial.log"}),
    Api(M + "start", "GET / state is 'Not started'", "GET", "/", status=200,
        json=lambda d: has_keys("app_name", "id", "state", "vmm_version")(d)
        or (None if d["state"] == "Not started" else f"state {d['state']!r}")),
    Api("vmm_config/instance_info.rs", "GET / id is --id", "GET", "/", status=200,
        json=lambda d: None if d.get("id") == "fcreplay" else f"id {d.get('id')!r}"),
    Api(M + "_validate_api_response_times", "request line in the framework's format", "PUT",
        "/machine-config", {"vcpu_count": 2, "mem_size_mib": 256},
        log=r'\] The API server received a Put request on "/machine-config" with body '
            r'"\{\\"vcpu_count\\": 2, \\"mem_size_mib\\": 256\}"\.'),
])

timing = Group("framework_api_timings", level="Debug", rows=[
    Api(M + "_validate_api_response_times", "GET /", "GET", "/", status=200),
    Api(M + "_validate_api_response_times", "GET /machine-config", "GET", "/machine-config",
        status=200),
    Api(M + "_validate_api_response_times", "PUT /machine-config", "PUT", "/machine-config",
        {"vcpu_count": 1, "mem_size_mib": 128}),
    Log(M + "_validate_api_response_times",
        "each request line paired with 'Total previous API call duration: N us.'",
        check=paired_request_durations),
])

cli = Group("cli", rows=[
    Cli(M + "firecracker_version", "--version prints 'Firecracker v<semver>' first",
        ["--version"], code=0, stdout=r"\AFirecracker v\d+\.\d+\.\d+"),
    Cli("src/firecracker/src/main.rs", "--version exits 0 with a semver", ["--version"], code=0,
        stdout=r"\A\S+ v\d+\.\d+\.\d+"),
    Cli("src/firecracker/src/main.rs", "--help exits 0 and lists --api-sock", ["--help"], code=0,
        stdout=r"--api-sock"),
    Cli("src/firecracker/src/main.rs", "unknown flag: exit 153 with usage",
        ["--no-such-flag"], code=153, stderr=r"(?i)usage|--api-sock|argument"),
    Cli("test_snapshot_basic.py::test_snapshot_current_version",
        "--snapshot-version prints a version", ["--snapshot-version"], code=0,
        stdout=r"\A\s*v?\d+\.\d+\.\d+"),
    Cli("test_cmd_line_parameters.py::test_cli_no_params (with --api-sock)",
        "ember with only --api-sock keeps running", ["--api-sock", "{dir}/api.sock"], code=None),
    Cli("src/firecracker/src/main.rs", "--no-api without --config-file is an argument error",
        ["--no-api"], code=153),
    Cli("src/firecracker/src/main.rs", "--boot-timer, --show-level, --show-log-origin, --module,"
        " --id, --start-time-us, --start-time-cpu-us, --parent-cpu-time-us accepted",
        ["--api-sock", "{dir}/api.sock", "--boot-timer", "--show-level", "--show-log-origin",
         "--module", "api", "--id", "x", "--start-time-us", "1", "--start-time-cpu-us", "1",
         "--parent-cpu-time-us", "1"], code=None),
    Cli("src/firecracker/src/main.rs", "--mmds-size-limit accepted",
        ["--api-sock", "{dir}/api.sock", "--mmds-size-limit", "1024"], code=None),
    Cli("src/firecracker/src/main.rs", "--no-seccomp accepted",
        ["--api-sock", "{dir}/api.sock", "--no-seccomp"], code=None),
])

GROUPS = [spawn, timing, cli]
