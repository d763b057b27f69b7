"""Building blocks of the Firecracker replay: an ember process per group, HTTP over its Unix
socket, and the row kinds the expectation files are written in.

Standard library only. A row is one expectation taken from Firecracker's public tests; it names
the Firecracker file::function it comes from (`origin`) and says what Firecracker answers.
"""

import fcntl
import http.client
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a Unix stream socket (as Firecracker's framework's requests_unixsocket)."""

    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8")) if self.body else None

    def fault(self):
        """The fault text, as Firecracker's framework reads it (fault_message, else error)."""
        try:
            data = self.json()
        except ValueError:
            return None
        if isinstance(data, dict):
            if "fault_message" in data:
                return data["fault_message"]
            if "error" in data:
                return data["error"]
        return None

    def short(self):
        text = self.body.decode("utf-8", "replace")
        return f"{self.status} {text[:300]}"


class Ember:
    """One ember process: --api-sock in a private directory, logs at `level` into a file."""

    def __init__(self, binary, workdir, extra_args=(), level="Info", log=True, api=True):
        self.binary = binary
        self.dir = workdir
        self.sock = os.path.join(workdir, "api.sock")
        self.log_path = os.path.join(workdir, "ember.log")
        self.stdout_path = os.path.join(workdir, "stdout.txt")
        self.stderr_path = os.path.join(workdir, "stderr.txt")
        args = [binary]
        if api:
            args += ["--api-sock", self.sock]
        if log:
            open(self.log_path, "w").close()
            args += ["--log-path", self.log_path, "--level", level]
        args += [a.replace("{dir}", workdir) for a in extra_args]
        self.args = args
        self.proc = subprocess.Popen(
            args,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=open(self.stdout_path, "wb"),
            stderr=open(self.stderr_path, "wb"),
        )
        self.conn = None

    def wait_socket(self, timeout=5.0):
        """As microvm.py's _wait_for_api_socket: the socket file appears while the process lives."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if os.path.exists(self.sock) and self._accepts():
                return True
            time.sleep(0.02)
        return False

    def _accepts(self):
        """The file exists between bind() and listen() too (in Firecracker as well): a client
        that connects at once may be refused under load, so wait until a connect succeeds."""
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(self.sock)
            return True
        except OSError:
            return False
        finally:
            probe.close()

    def connection(self):
        if self.conn is None:
            self.conn = UnixHTTPConnection(self.sock)
        return self.conn

    def request(self, method, path, body=None, headers=None):
        """One request on the kept-alive connection (reconnecting once if ember closed it)."""
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            if isinstance(data, str):
                data = data.encode("utf-8")
        hdrs = {"Accept": "application/json"}
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        for attempt in (0, 1):
            conn = self.connection()
            try:
                conn.request(method, path, body=data, headers=hdrs)
                resp = conn.getresponse()
                payload = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self.close_connection()
                return Response(resp.status, resp.getheaders(), payload)
            except (http.client.HTTPException, OSError):
                self.close_connection()
                if attempt == 1:
                    raise

    def close_connection(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def log_text(self):
        try:
            with open(self.log_path, "r", encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        self.close_connection()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---- Row kinds ---------------------------------------------------------------------------------


class Row:
    """Base: `origin` is the Firecracker file::function, `what` a short description."""

    kind = "row"

    def __init__(self, origin, what):
        self.origin = origin
        self.what = what


class Api(Row):
    """A request and Firecracker's answer: status, a fault substring, a JSON check, headers.

    `json` is a dict compared for equality, or a callable returning None (ok) or a reason.
    `headers` maps a lower-case header name to True (present), False (absent) or a substring.
    `log` is a regex that must then match the log file (`log_file`, relative to the group's
    directory, when the logger was moved with PUT /logger); `not_fault` must not be in the fault.
    """

    kind = "api"

    def __init__(self, origin, what, method, path, body=None, status=204, fault=None,
                 json=None, headers=None, log=None, raw_body=None, log_file=None,
                 not_fault=None):
        super().__init__(origin, what)
        self.log_file = log_file
        self.not_fault = not_fault
        self.method = method
        self.path = path
        self.body = body
        self.raw_body = raw_body
        self.status = status
        self.fault = fault
        self.json = json
        self.headers = headers or {}
        self.log = log


class Log(Row):
    """The log file so far matches `pattern` (a regex), or with present=False does not; or
    `check(text)` returns None. `file` is relative to the group's directory (default: ember's
    --log-path)."""

    kind = "log"

    def __init__(self, origin, what, pattern=None, present=True, check=None, file=None):
        super().__init__(origin, what)
        self.pattern = pattern
        self.present = present
        self.check = check
        self.file = file


class Raw(Row):
    """Raw bytes on a fresh connection; the answer's status line, headers and body are checked,
    then (keep=True) a GET / on the same connection must still be answered."""

    kind = "raw"

    def __init__(self, origin, what, data, status, body_contains=None, headers=None, keep=True):
        super().__init__(origin, what)
        self.data = data
        self.status = status
        self.body_contains = body_contains or []
        self.headers = headers or {}
        self.keep = keep


class Alive(Row):
    """The ember process is still running (or, with alive=False, has exited with `code`)."""

    kind = "alive"

    def __init__(self, origin, what, alive=True, code=None, timeout=3.0):
        super().__init__(origin, what)
        self.alive = alive
        self.code = code
        self.timeout = timeout


class Cli(Row):
    """`ember ARGS` on its own: exit code (None = still running after `wait` s, then stopped),
    stdout/stderr/log regexes (the log is DIR/cli.log, when ARGS name it). `sockets` are bound
    (and left unlistened) in DIR before the start."""

    kind = "cli"

    def __init__(self, origin, what, args, code=0, stdout=None, stderr=None, log=None,
                 wait=3.0, files=None, level="Info", sockets=()):
        super().__init__(origin, what)
        self.sockets = list(sockets)
        self.args = args
        self.code = code
        self.stdout = stdout
        self.stderr = stderr
        self.log = log
        self.wait = wait
        self.files = files or {}
        self.level = level


class Group:
    """Rows replayed in order against one fresh ember. `files` are created in its directory
    first ({dir} in paths, bodies and args is replaced by that directory); `needs` lists host
    capabilities (\"tap\") without which the group is skipped, not passed. With log=False ember
    starts without --log-path (as the framework's spawn(log_file=None))."""

    def __init__(self, name, rows, args=(), files=None, needs=(), level="Info", log=True):
        self.log = log
        self.name = name
        self.rows = rows
        self.args = list(args)
        self.files = files or {}
        self.needs = list(needs)
        self.level = level


# ---- Helpers for expectation files -------------------------------------------------------------


def has_keys(*keys):
    """A JSON check: the answer is an object with these keys."""

    def check(data):
        if not isinstance(data, dict):
            return f"not a JSON object: {data!r}"
        missing = [k for k in keys if k not in data]
        return f"missing keys {missing}" if missing else None

    return check


def field(path, expected):
    """A JSON check: data[path[0]][path[1]]... == expected."""

    def check(data):
        cur = data
        for key in path:
            if isinstance(cur, dict) and key in cur:
                cur = cur[key]
            elif isinstance(cur, list) and isinstance(key, int) and key < len(cur):
                cur = cur[key]
            else:
                return f"no {'.'.join(map(str, path))} in {json.dumps(data)[:300]}"
        if cur != expected:
            return f"{'.'.join(map(str, path))} is {cur!r}, expected {expected!r}"
        return None

    return check


def tap_available():
    """Whether this host lets us create a tap (TUNSETIFF), as the net rows need."""
    try:
        fd = os.open("/dev/net/tun", os.O_RDWR)
    except OSError:
        return False
    try:
        ifr = struct.pack("16sH", b"fcrprobe%d" % (os.getpid() % 10000), 0x0002 | 0x1000)
        fcntl.ioctl(fd, 0x400454CA, ifr)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def make_workdir(prefix):
    return tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("TMPDIR", "/tmp"))


def remove_workdir(path):
    shutil.rmtree(path, ignore_errors=True)


def substitute(value, workdir):
    """{dir} -> the group's directory, inside strings, lists and dicts."""
    if isinstance(value, str):
        return value.replace("{dir}", workdir)
    if isinstance(value, list):
        return [substitute(v, workdir) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, workdir) for k, v in value.items()}
    return value


def regex_search(pattern, text):
    return re.search(pattern, text, re.MULTILINE) is not None
