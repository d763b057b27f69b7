#!/usr/bin/env python3
"""Start-up cost of the jail: ember-jailer start -> API socket accepting, against ember started
directly. Prints medians of wall and CPU milliseconds and the ratios; asserts nothing.

Wall time is measured here (spawn -> first successful connect()). CPU time is Firecracker's
api_server.process_startup_time_cpu_us metric, read back through PUT /metrics + FlushMetrics: the
process's CPU time when the socket started accepting, which for a jailed start includes the
jailer's own work (it execs ember in the same process). Needs root (the jailer does) but no KVM:
ember opens /dev/kvm only at InstanceStart.

Usage: jailer_bench.py EMBER EMBER_JAILER [ROUNDS]
"""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def http(sock_path, method, path, body=None):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(sock_path)
        data = json.dumps(body) if body is not None else ""
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(data)}"
                  f"\r\nConnection: close\r\n\r\n{data}".encode())
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    status = int(reply.split(b" ", 2)[1])
    if status >= 300:
        raise RuntimeError(f"{method} {path}: {reply.decode(errors='replace')}")


def wait_accepting(sock_path, proc, limit_s=10.0):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} before accepting")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(sock_path)
            return time.monotonic()
        except OSError:
            time.sleep(0.0002)
    raise RuntimeError("socket never accepted")


def set_metrics(sock_path, metrics_path):
    """Names the metrics file (as ember sees it); ember writes it as it exits."""
    http(sock_path, "PUT", "/metrics", {"metrics_path": metrics_path[0]})


def startup_cpu_ms(metrics_path):
    """The api_server start-up CPU figure, from the line written at exit (FlushMetrics is refused
    before boot, as in Firecracker); metrics_path read back via its host path."""
    with open(metrics_path[1]) as f:
        line = f.readlines()[-1]
    return json.loads(line)["api_server"]["process_startup_time_cpu_us"] / 1000


def one_run(argv, sock_path, metrics_path, cwd):
    start = time.monotonic()
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        accepted = wait_accepting(sock_path, proc)
        set_metrics(sock_path, metrics_path)
    except RuntimeError as e:
        proc.kill()
        sys.exit(f"jailer_bench: {' '.join(argv)}: {e}\n{proc.communicate()[1].decode()}")
    proc.terminate()
    proc.wait()
    return (accepted - start) * 1000, startup_cpu_ms(metrics_path)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    ember, jailer = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    if os.geteuid() != 0:
        print("jailer_bench: not run: ember-jailer needs root")
        return
    work = tempfile.mkdtemp(prefix="ember-jailer-bench.")
    # The jailer copies the binary into every jail: measure what is deployed, a stripped copy
    # (RelWithDebInfo's debug info makes it about 20 times larger).
    os.mkdir(os.path.join(work, "bin"))
    stripped = os.path.join(work, "bin", "ember")
    if shutil.which("strip"):
        subprocess.run(["strip", "-o", stripped, ember], check=True)
        ember = stripped
    size_mib = os.path.getsize(ember) / (1 << 20)
    cgroup_version = "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1"
    direct, jailed = [], []
    try:
        for i in range(rounds):
            sock = os.path.join(work, "direct.sock")
            metrics = os.path.join(work, "direct.metrics")
            for p in (sock, metrics):
                if os.path.exists(p):
                    os.unlink(p)
            # The CPU figure is reported only with a CPU start, which the jailer passes;
            # 0 is this process's CPU clock at fork.
            direct.append(one_run([ember, "--api-sock", sock, "--start-time-cpu-us", "0"], sock,
                                  (metrics, metrics), work))

            vm_id = f"bench-{os.getpid()}-{i}"
            root = os.path.join(work, os.path.basename(ember), vm_id, "root")
            os.makedirs(root)
            jailed.append(one_run(
                [jailer, "--id", vm_id, "--exec-file", ember, "--uid", "1234", "--gid", "1234",
                 "--chroot-base-dir", work, "--cgroup-version", cgroup_version,
                 "--", "--api-sock", "/api.sock"],
                os.path.join(root, "api.sock"), ("/metrics.json", os.path.join(root, "metrics.json")),
                work))
            shutil.rmtree(os.path.join(work, os.path.basename(ember), vm_id), ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = lambda xs, k: statistics.median(x[k] for x in xs)
    print(f"jailer_bench: {rounds} rounds, cgroup v{cgroup_version}, "
          f"{size_mib:.1f} MiB binary, median of each")
    print(f"  ember direct : start -> socket accepting {med(direct, 0):7.2f} ms wall, "
          f"{med(direct, 1):6.2f} ms CPU")
    print(f"  ember-jailer : start -> socket accepting {med(jailed, 0):7.2f} ms wall, "
          f"{med(jailed, 1):6.2f} ms CPU")
    print(f"  ratio jailed/direct: wall {med(jailed, 0) / med(direct, 0):.2f}, "
          f"CPU {med(jailed, 1) / med(direct, 1):.2f}")


if __name__ == "__main__":
    main()
