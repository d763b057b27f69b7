"""Expectations from tests/integration_tests/functional/test_logging.py before boot."""

import re

from common import FILES, basic_config
from replay_lib import Api, Group, Log

F = "test_logging.py::"

FAIL = F + "test_log_config_failure"
log_config_failure = Group("logging_config_failure", files=FILES, log=False,
                           rows=basic_config(FAIL) + [
    Api(FAIL, "PUT /logger to a path that cannot be created", "PUT", "/logger",
        {"log_path": "invalid log file", "level": "Info", "show_level": True,
         "show_log_origin": True}, status=400, fault="No such file or directory (os error 2)"),
])

REQ = F + "test_api_requests_logs"
LOGGER = {"log_path": "{dir}/log", "level": "Info", "show_level": True, "show_log_origin": True}
KERNEL_FAULT = ("Boot source error: The kernel file cannot be opened: No such file or directory "
                "(os error 2)")
api_requests_logs = Group("logging_api_requests", log=False,
                          files=dict(FILES, log="", new_log=""), rows=basic_config(REQ) + [
    Api(REQ, "PUT /logger", "PUT", "/logger", LOGGER),
    Api(REQ, "PATCH is logged with its body", "PATCH", "/machine-config", {"vcpu_count": 4},
        log_file="log",
        log=r'The API server received a Patch request on "/machine-config" with body'),
    Api(REQ, "PUT is logged with its body", "PUT", "/machine-config",
        {"vcpu_count": 4, "mem_size_mib": 128}, log_file="log",
        log=r'The API server received a Put request on "/machine-config" with body'),
    Api(REQ, "GET is logged without a body", "GET", "/machine-config", status=200,
        log_file="log", log=r'The API server received a Get request on "/machine-config"\.'),
    Api(REQ, "PUT /logger again moves the log", "PUT", "/logger", dict(LOGGER, log_path="{dir}/new_log")),
    Api(REQ, "PUT /mmds is logged without its body", "PUT", "/mmds",
        {"latest": {"meta-data": {"ami-id": "dummy"}}}, log_file="new_log",
        log=r'The API server received a Put request on "/mmds"\.'),
    Api(REQ, "PATCH /mmds is logged without its body", "PATCH", "/mmds",
        {"latest": {"meta-data": {"ami-id": "dummy"}}}, log_file="new_log",
        log=r'The API server received a Patch request on "/mmds"\.'),
    Api(REQ, "GET /mmds is logged", "GET", "/mmds", status=200, log_file="new_log",
        log=r'The API server received a Get request on "/mmds"\.'),
    Api(REQ, "missing kernel: fault with Firecracker's prefix, logged as an error", "PUT",
        "/boot-source", {"kernel_image_path": "inexistent_path"}, status=400, fault=KERNEL_FAULT,
        log_file="new_log", log=re.escape("Received Error. Status code: 400 Bad Request. Message: "
                                          + KERNEL_FAULT)),
])

FORMAT = F + "test_log_config"
LINE = (r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9} \[fcreplay:[^\]]*:(ERROR|WARN|INFO|DEBUG):"
        r"[^:\]]+/[^:\]]+:[0-9]+\] ")


def every_line_formatted(text):
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return "the log is empty"
    bad = [line for line in lines if not re.match(LINE, line)]
    return f"{len(bad)} line(s) not in Firecracker's format, e.g. {bad[0]!r}" if bad else None


def first_line_running(text):
    lines = text.splitlines()
    return None if lines and "Running Firecracker" in lines[0] else \
        f"first line: {lines[0] if lines else ''!r}"


log_format = Group("logging_line_format", files=FILES,
                   args=["--id", "fcreplay", "--show-level", "--show-log-origin"],
                   rows=basic_config(FORMAT) + [
    Log(FORMAT, "every line is 'TIMESTAMP [ID:THREAD:LEVEL:FILE:LINE] MESSAGE'",
        check=every_line_formatted),
    Log(FORMAT, "first line says 'Running Firecracker'", check=first_line_running),
])

GROUPS = [log_config_failure, api_requests_logs, log_format]
