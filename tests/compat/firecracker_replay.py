#!/usr/bin/env python3
"""Replays the API-level expectations of Firecracker's public integration tests against ember.

Each row in tests/compat/expectations/*.py is one expectation from a Firecracker test (or its
API parser's unit tests) that can be checked before boot: a request and Firecracker's status,
fault text and JSON shape; a log line; a command-line behaviour. Every group of rows runs against
a fresh `ember --api-sock DIR/api.sock --log-path DIR/ember.log --level Info`, without /dev/kvm
(ember serves its API before InstanceStart opens it).

Prints PASS/FAIL per row with the reason and "N expectations replayed, M pass"; exits 1 when a
row fails that is not in KNOWN_DIFFERENCES below.

Usage: firecracker_replay.py EMBER_BINARY [--only SUBSTRING] [--verbose]
"""

import argparse
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time

# No __pycache__ in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "expectations"))

import replay_lib as lib  # noqa: E402

# Rows where Ember answers differently from Firecracker on purpose, keyed "group: what", each
# with the reason. A row that fails because Ember lacks something yet is a FAIL, never listed here.
# Each maps to (the reason, a text Ember's own answer must show, so that the row still checks
# what Ember does instead).
KNOWN_DIFFERENCES = {
    # Ember is not Firecracker: its --version says so. Firecracker's framework reads the version
    # from GET /version (firecracker_version), which Ember answers in Firecracker's shape.
    "cli: --version prints 'Firecracker v<semver>' first":
        ("Ember names itself: 'Ember v<semver>'", "Ember v"),
    # Firecracker's NetBuilder::build removes interface 1 before its failed update (tap in use),
    # so the test's next PUT may reuse interface 1's MAC. Ember leaves a configuration unchanged
    # when a PUT fails, so interface 1 keeps its MAC and the reuse is refused.
    "api_net_put_update_pre_boot: new interface, free tap":
        ("a failed PUT /network-interfaces leaves the old interface in place", "06:00:00:00:00:01"),
    # Devices Ember does not emulate: every path answers 400 "Ember does not support ...".
    "api_unsupported_devices: PUT /vsock accepted": ("no vsock device", "Ember does not support"),
    "api_unsupported_devices: PUT /entropy accepted":
        ("no entropy device", "Ember does not support"),
    "api_unsupported_devices: PUT /balloon accepted":
        ("no balloon device", "Ember does not support"),
    "api_unsupported_devices: PUT /pmem accepted": ("no pmem device", "Ember does not support"),
    "api_unsupported_devices: PUT /hotplug/memory accepted":
        ("no memory hotplug", "Ember does not support"),
    "api_unsupported_devices: PATCH /pmem before boot refused":
        ("no pmem device, in any phase", "Ember does not support"),
}

EXPECTATION_FILES = [
    "test_api.py",
    "test_cmd_line_start.py",
    "test_mmds.py",
    "test_logging.py",
    "test_metrics.py",
    "test_snapshot_basic.py",
    "framework_microvm.py",
    "parsed_request_rs.py",
    "request_rs.py",
]


def load_groups(directory):
    groups = []
    for name in EXPECTATION_FILES:
        path = os.path.join(directory, name)
        spec = importlib.util.spec_from_file_location("fc_expect_" + name[:-3], path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        groups.extend(module.GROUPS)
    return groups


def wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


# ---- Row checks: each returns None (pass) or the reason it failed ------------------------------


def check_api(row, ember, workdir):
    body = lib.substitute(row.body, workdir)
    raw = row.raw_body.encode() if isinstance(row.raw_body, str) else row.raw_body
    try:
        resp = ember.request(row.method, lib.substitute(row.path, workdir),
                             raw if raw is not None else body)
    except (OSError, Exception) as err:  # noqa: BLE001 - any transport failure is the answer
        return f"no answer: {err!r}"
    problems = []
    if resp.status != row.status:
        problems.append(f"status {resp.status}, expected {row.status}")
    if row.status == 204 and resp.status == 204 and resp.body:
        problems.append("204 with a body")
    if row.status >= 400:
        fault = resp.fault()
        if fault is None:
            problems.append("no JSON fault_message")
        elif row.fault is not None and row.fault not in fault:
            problems.append(f"fault lacks {row.fault!r}")
        elif row.not_fault is not None and row.not_fault in fault:
            problems.append(f"fault has {row.not_fault!r}")
    if row.json is not None and resp.status < 300:
        try:
            data = resp.json()
        except ValueError:
            data = None
            problems.append("body is not JSON")
        if data is not None or not problems:
            if callable(row.json):
                reason = row.json(data)
                if reason:
                    problems.append(reason)
            elif data != lib.substitute(row.json, workdir):
                problems.append(f"JSON differs: got {json.dumps(data)[:400]}")
    for name, want in row.headers.items():
        have = resp.headers.get(name)
        if want is True and have is None:
            problems.append(f"no {name} header")
        elif want is False and have is not None:
            problems.append(f"unexpected {name} header")
        elif isinstance(want, str) and (have is None or want not in have):
            problems.append(f"header {name}: {have!r}, expected {want!r}")
    if row.log and not wait_for(
            lambda: lib.regex_search(row.log, read_log(ember, workdir, row.log_file)), 1.5):
        problems.append(f"no log line matching {row.log!r}")
    if problems:
        return "; ".join(problems) + f" | answer: {resp.short()}"
    return None


def read_http_response(sock, timeout):
    """Reads one response: (status, headers dict, body bytes), or raises."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {data[:200]!r}")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest[:length], lines[0]


def check_raw(row, ember, workdir):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(ember.sock)
        sock.sendall(row.data)
        try:
            status, headers, body, line = read_http_response(sock, 4.0)
        except (OSError, ValueError, IndexError) as err:
            return f"no answer: {err!r}"
        problems = []
        if status != row.status:
            problems.append(f"status line {line!r}, expected {row.status}")
        text = body.decode("utf-8", "replace")
        for want in row.body_contains:
            if want not in text:
                problems.append(f"body lacks {want!r}")
        for name, want in row.headers.items():
            if want not in headers.get(name, ""):
                problems.append(f"header {name}: {headers.get(name)!r}, expected {want!r}")
        if row.keep and not problems:
            try:
                sock.sendall(b"GET / HTTP/1.1\r\nAccept: application/json\r\n\r\n")
                status2, _, body2, line2 = read_http_response(sock, 4.0)
                if status2 != 200:
                    problems.append(f"next request on the connection: {line2!r} {body2[:120]!r}")
            except (OSError, ValueError, IndexError) as err:
                problems.append(f"connection not kept: {err!r}")
        if problems:
            return "; ".join(problems) + f" | answer: {status} {text[:300]!r}"
        return None
    finally:
        sock.close()


def read_log(ember, workdir, name):
    if not name:
        return ember.log_text()
    try:
        with open(os.path.join(workdir, name), encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def check_log(row, ember, workdir):
    if row.check is not None:
        reasons = []
        wait_for(lambda: not reasons.append(row.check(read_log(ember, workdir, row.file)))
                 and reasons[-1] is None, 1.5)
        return reasons[-1]
    found = wait_for(lambda: lib.regex_search(row.pattern, read_log(ember, workdir, row.file)),
                     1.5 if row.present else 0.3)
    if found == row.present:
        return None
    tail = read_log(ember, workdir, row.file)[-600:]
    if row.present:
        return f"no log line matching {row.pattern!r}; log ends: {tail!r}"
    return f"log line matching {row.pattern!r} present"


def check_alive(row, ember, workdir):
    if row.alive:
        return None if ember.alive() else f"ember exited with {ember.proc.returncode}"
    try:
        code = ember.proc.wait(timeout=row.timeout)
    except subprocess.TimeoutExpired:
        return f"ember still runs after {row.timeout} s"
    if row.code is not None and code != row.code:
        return f"ember exited {code}, expected {row.code}"
    return None


def check_cli(row, binary, workdir):
    cli_dir = os.path.join(workdir, "cli")
    os.makedirs(cli_dir, exist_ok=True)
    for name, content in row.files.items():
        with open(os.path.join(cli_dir, name), "wb") as f:
            f.write(content if isinstance(content, bytes) else content.encode())
    bound = []
    for name in row.sockets:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(os.path.join(cli_dir, name))
        bound.append(sock)
    args = [binary] + [a.replace("{dir}", cli_dir) for a in row.args]
    out_path, err_path = os.path.join(cli_dir, "out"), os.path.join(cli_dir, "err")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(args, cwd=cli_dir, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=err)
        try:
            code = proc.wait(timeout=row.wait)
        except subprocess.TimeoutExpired:
            code = None
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    for sock in bound:
        sock.close()
    stdout = open(out_path, encoding="utf-8", errors="replace").read()
    stderr = open(err_path, encoding="utf-8", errors="replace").read()
    log_path = os.path.join(cli_dir, "cli.log")
    log = open(log_path, encoding="utf-8", errors="replace").read() \
        if os.path.exists(log_path) else ""
    problems = []
    if row.code == "nonzero":
        if code in (None, 0):
            problems.append(f"exit {code}, expected an error exit")
    elif code != row.code:
        problems.append(f"exit {'(still running)' if code is None else code}, expected "
                        f"{'(still running)' if row.code is None else row.code}")
    for name, pattern, text in (("stdout", row.stdout, stdout), ("stderr", row.stderr, stderr),
                                ("log", row.log, log)):
        if pattern and not lib.regex_search(pattern, text):
            problems.append(f"{name} lacks /{pattern}/: {text[-300:]!r}")
    # Leave the next Cli row a clean directory (sockets, logs).
    lib.remove_workdir(cli_dir)
    return "; ".join(problems) if problems else None


CHECKS = {"api": check_api, "raw": check_raw, "log": check_log, "alive": check_alive}


def run_group(group, binary, capabilities, verbose):
    """Yields (row, outcome, reason) with outcome PASS, FAIL or SKIP."""
    missing = [n for n in group.needs if not capabilities.get(n)]
    if missing:
        for row in group.rows:
            yield row, "SKIP", f"host lacks {', '.join(missing)}"
        return
    workdir = lib.make_workdir(f"fc-replay-{group.name}-")
    try:
        for name, content in group.files.items():
            with open(os.path.join(workdir, name), "wb") as f:
                f.write(content if isinstance(content, bytes) else content.encode())
        needs_process = any(r.kind != "cli" for r in group.rows)
        ember = None
        start_error = None
        if needs_process:
            ember = lib.Ember(binary, workdir, group.args, level=group.level, log=group.log)
            if not ember.wait_socket():
                start_error = (f"ember did not serve {ember.sock} (exit {ember.proc.poll()}): "
                               f"{open(ember.stderr_path, errors='replace').read()[-300:]!r}")
        try:
            for row in group.rows:
                if row.kind == "cli":
                    reason = check_cli(row, binary, workdir)
                elif start_error:
                    reason = start_error
                else:
                    reason = CHECKS[row.kind](row, ember, workdir)
                yield row, ("FAIL" if reason else "PASS"), reason
        finally:
            if ember is not None:
                ember.stop()
                if verbose:
                    print(f"---- {group.name}: ember log\n{ember.log_text()[-3000:]}")
    finally:
        lib.remove_workdir(workdir)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ember")
    parser.add_argument("--only", help="run only groups whose name contains this")
    parser.add_argument("--verbose", action="store_true", help="print each group's ember log")
    args = parser.parse_args()
    binary = os.path.abspath(args.ember)
    if not os.access(binary, os.X_OK):
        print(f"firecracker_replay: {binary} is not an executable", file=sys.stderr)
        return 2
    here = os.path.dirname(os.path.abspath(__file__))
    groups = load_groups(os.path.join(here, "expectations"))
    capabilities = {"tap": lib.tap_available()}

    total = passed = known = skipped = 0
    failures = []
    for group in groups:
        if args.only and args.only not in group.name:
            continue
        for row, outcome, reason in run_group(group, binary, capabilities, args.verbose):
            key = f"{group.name}: {row.what}"
            if outcome == "SKIP":
                skipped += 1
                print(f"SKIP {key} [{row.origin}] ({reason})")
                continue
            total += 1
            if outcome == "PASS":
                passed += 1
                print(f"PASS {key} [{row.origin}]")
            elif key in KNOWN_DIFFERENCES and KNOWN_DIFFERENCES[key][1] in (reason or ""):
                known += 1
                print(f"DIFF {key} [{row.origin}] (known difference: {KNOWN_DIFFERENCES[key][0]})")
            else:
                failures.append(key)
                print(f"FAIL {key} [{row.origin}]\n     {reason}")
    print(f"{total} expectations replayed, {passed} pass, {len(failures)} fail, "
          f"{known} known differences, {skipped} skipped")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
