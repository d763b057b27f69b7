"""The outer VM's kernel and its cached base initramfs, for ember-sandbox's QEMU mode.

The base archive holds busybox, the host's shells, kvm-amd and tun modules, iproute2, e2fsprogs,
QEMU with its firmware, and /init. It is cached under $EMBER_CACHE_DIR keyed by a hash of its
inputs; a per-run archive (see ember-sandbox) is appended to it for each boot.
"""

import bz2
import fcntl
import hashlib
import json
import lzma
import os
import re
import shlex
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import time
import zlib

# Bump when the base archive's layout or the init script changes, to invalidate caches.
kBaseFormat = "5"

# Loaded in this order inside the outer VM (kvm-amd needs ccp and kvm; kvm needs irqbypass).
kModules = ["irqbypass", "ccp", "kvm", "kvm-amd", "tun"]

kScriptDir = os.path.dirname(os.path.realpath(__file__))
kRepoRoot = os.path.realpath(os.path.join(kScriptDir, "..", ".."))
kGuestKernelFetcher = os.path.join(kRepoRoot, "resources", "guest", "fetch-debian-kernel.sh")

# Host tools carried into the outer VM, beside busybox: the shells, iproute2's ip (busybox's has
# no tuntap), e2fsprogs, and QEMU itself so that QEMU's microvm can be run and measured as a peer.
kExtraTools = {
    # Commands run under the host's shells, not busybox's ash: that one runs its own applets
    # before searching PATH, so `ip` would not be iproute2's.
    "/bin/sh": ["/bin/dash", "/usr/bin/dash"],
    "/bin/bash": ["/bin/bash", "/usr/bin/bash"],
    "/sbin/ip": ["/usr/bin/ip", "/bin/ip", "/usr/sbin/ip", "/sbin/ip"],
    "/sbin/mke2fs": ["/usr/sbin/mke2fs", "/sbin/mke2fs"],
    "/sbin/e2fsck": ["/usr/sbin/e2fsck", "/sbin/e2fsck"],
    "/sbin/debugfs": ["/usr/sbin/debugfs", "/sbin/debugfs"],
    "/sbin/resize2fs": ["/usr/sbin/resize2fs", "/sbin/resize2fs"],
    "/usr/bin/qemu-system-x86_64": ["/usr/bin/qemu-system-x86_64"],
}
kExtraLinks = {"/sbin/mkfs.ext4": "mke2fs", "/sbin/fsck.ext4": "e2fsck"}
kQemuFirmwareDir = "/usr/share/qemu"

# The outer VM's /init. The per-run archive adds /sandbox/env, /sandbox/cmd/N and /sandbox/work.
# ttyS0 is the kernel console (a log file on the host), ttyS1 the commands' stdout and the status
# lines, ttyS2 their stderr.
kInitScript = r"""#!/bin/busybox sh
PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /tmp /work /run
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
. /sandbox/env
OUT=/dev/ttyS1
ERR=/dev/ttyS2
stty -F $OUT raw -echo
stty -F $ERR raw -echo
say() { echo "@@$NONCE $*" >$OUT; }
say BOOT $(cut -d' ' -f1 /proc/uptime)
for m in irqbypass ccp kvm kvm-amd tun; do
    insmod /lib/modules/ember/$m.ko || say WARN "insmod $m failed"
done
echo 1 >/proc/sys/kernel/printk
# A nested guest's triple fault reaches KVM as an SVM SHUTDOWN exit (0x7f), after which KVM resets
# the vCPU, so the monitor can only report reset registers. The exit's tracepoint still holds the
# faulting RIP: record only those exits and print them after the command that caused them.
T=/sys/kernel/tracing
mount -t tracefs tracefs $T 2>/dev/null
if [ -w $T/events/kvm/kvm_exit/filter ]; then
    echo 'exit_reason == 127' >$T/events/kvm/kvm_exit/filter &&
        echo 1 >$T/events/kvm/kvm_exit/enable || say WARN "kvm_exit trace unavailable"
fi
# The heartbeat: the host takes a VM whose console stops growing for frozen. It goes through the
# kernel's console (level 0, printed at printk level 1), which writes the UART by polling: an
# interrupt-driven port of its own (ttyS3) would share IRQ 3 with ttyS1, and two QEMU ISA serial
# ports on one line can lose each other's interrupts (suspected when, with a ttyS3 heartbeat, the
# command output and the heartbeat stopped together while the VM's CPUs were busy).
(while :; do echo "<0>ember-sandbox: heartbeat $(cut -d' ' -f1 /proc/uptime)" >/dev/kmsg
             sleep $HEARTBEAT_S; done) &
# A run that hangs until the host kills it would leave nothing to read: shortly before the
# deadline, print every blocked task's stack, every CPU's backtrace and the memory state on the
# console, which the host prints after a timeout.
(sleep $DIAG_AFTER_S
 echo 7 >/proc/sys/kernel/printk
 echo "ember-sandbox: near the deadline; tasks, CPUs and memory follow" >/dev/kmsg
 for key in w l m; do echo $key >/proc/sysrq-trigger; done
 ps -o pid,stat,args | grep -v " \\[" >/dev/console 2>&1) &
ifconfig lo 127.0.0.1 up
# The initramfs is a tmpfs: let it grow, and bind its copy of the workdir to /work (no copy).
mount -o remount,size=90% /
mount --bind /sandbox/work /work
[ -c /dev/kvm ] && kvm=yes || kvm=no
say READY $(cut -d' ' -f1 /proc/uptime) kvm=$kvm kernel=$(uname -r)
export PATH=/work/bin:$PATH HOME=/work TMPDIR=/tmp EMBER_SANDBOX_MODE=qemu-tcg
export EMBER_SANDBOX_WORKDIR=/work
i=1
while [ $i -le $NCMDS ]; do
    say BEGIN $i
    (cd /work && exec /bin/sh /sandbox/cmd/$i) </dev/null >$OUT 2>$ERR
    rc=$?
    if grep -q kvm_exit $T/trace 2>/dev/null; then
        echo "ember-sandbox: nested triple faults (SVM shutdown exits), with RIP:" >$ERR
        grep kvm_exit $T/trace >$ERR
        echo >$T/trace
    fi
    echo "@@$NONCE END $i" >$ERR
    say STATUS $i $rc $(cut -d' ' -f1 /proc/uptime)
    i=$((i + 1))
done
say DONE
sync
poweroff -f
"""



def log(msg):
    sys.stderr.write("ember-sandbox: " + msg + "\n")
    sys.stderr.flush()


class SandboxError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# cpio (newc) archives, the initramfs format.

class CpioWriter:
    """Writes a newc cpio archive; parent directories are created on demand."""

    def __init__(self, out):
        self.out = out
        self.ino = 1000
        self.dirs = set()
        self.paths = set()

    def _header(self, name, mode, size, nlink=1, mtime=0):
        name_b = name.encode() + b"\0"
        self.ino += 1
        fields = [self.ino, mode, 0, 0, nlink, mtime, size, 0, 0, 0, 0, len(name_b), 0]
        hdr = b"070701" + b"".join(b"%08X" % f for f in fields)
        self.out.write(hdr + name_b)
        self._pad(len(hdr) + len(name_b))

    def _pad(self, n):
        if n % 4:
            self.out.write(b"\0" * (4 - n % 4))

    def _parents(self, path):
        parent = os.path.dirname(path)
        if parent and parent not in self.dirs:
            self.add_dir(parent)

    def add_dir(self, path, mode=0o755):
        path = path.strip("/")
        if not path or path in self.dirs:
            return
        self._parents(path)
        self.dirs.add(path)
        self._header(path, stat.S_IFDIR | mode, 0, nlink=2)

    def add_data(self, path, data, mode=0o644):
        path = path.strip("/")
        self._parents(path)
        self.paths.add(path)
        self._header(path, stat.S_IFREG | mode, len(data))
        self.out.write(data)
        self._pad(len(data))

    def add_file(self, path, src):
        """Adds the host file src (symlinks followed) at path, with its permission bits."""
        st = os.stat(src)
        path = path.strip("/")
        self._parents(path)
        self.paths.add(path)
        self._header(path, stat.S_IFREG | (st.st_mode & 0o7777), st.st_size)
        with open(src, "rb") as f:
            shutil.copyfileobj(f, self.out, 1 << 20)
        self._pad(st.st_size)

    def add_tree(self, path, src):
        """Adds a host directory tree, following symlinks to files."""
        self.add_dir(path)
        for root, dirnames, filenames in os.walk(src, followlinks=True):
            rel = os.path.relpath(root, src)
            base = path if rel == "." else os.path.join(path, rel)
            for d in sorted(dirnames):
                self.add_dir(os.path.join(base, d))
            for f in sorted(filenames):
                full = os.path.join(root, f)
                if os.path.isfile(full):
                    self.add_file(os.path.join(base, f), full)

    def add_symlink(self, path, target):
        path = path.strip("/")
        self._parents(path)
        self.paths.add(path)
        data = target.encode()
        self._header(path, stat.S_IFLNK | 0o777, len(data))
        self.out.write(data)
        self._pad(len(data))

    def finish(self):
        self._header("TRAILER!!!", 0, 0, nlink=1)
        # Concatenated archives start on a 512-byte boundary.
        pos = self.out.tell()
        if pos % 512:
            self.out.write(b"\0" * (512 - pos % 512))


def shared_libraries(binary):
    """The shared libraries `ldd` lists for binary (none for static binaries and scripts)."""
    proc = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True)
    if proc.returncode != 0:
        return []
    libs = []
    for line in proc.stdout.splitlines():
        line = line.strip()
        if "=>" in line:
            target = line.split("=>", 1)[1].strip().split(" (")[0].strip()
        else:
            target = line.split(" (")[0].strip()
        if target.startswith("/") and os.path.exists(target):
            libs.append(target)
    return libs


# ---------------------------------------------------------------------------------------------
# The outer kernel and the cached base archive.

def cache_root():
    root = os.environ.get("EMBER_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "ember")
    os.makedirs(root, exist_ok=True)
    return root


class CacheLock:
    def __init__(self, name):
        self.path = os.path.join(cache_root(), name + ".lock")

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)


def find_module_files(modules_dir):
    found = {}
    for root, _, filenames in os.walk(modules_dir):
        for f in filenames:
            m = re.match(r"^(.*)\.ko(\.xz)?$", f)
            if m and m.group(1) in kModules and m.group(1) not in found:
                found[m.group(1)] = os.path.join(root, f)
    missing = [m for m in kModules if m not in found]
    if missing:
        raise SandboxError("kernel modules not found under %s: %s" % (modules_dir,
                                                                     ", ".join(missing)))
    return found


def cached_kernel():
    """The newest kernel fetch_kernel_ourselves() left in the cache, if any."""
    root = os.path.join(cache_root(), "debian-kernel")
    if not os.path.isdir(root):
        return None
    done = sorted((os.path.getmtime(os.path.join(root, d, ".complete")), d)
                  for d in os.listdir(root) if os.path.exists(os.path.join(root, d, ".complete")))
    return os.path.join(root, done[-1][1]) if done else None


def kernel_paths(dest):
    vmlinuz = [f for f in os.listdir(os.path.join(dest, "boot")) if f.startswith("vmlinuz-")]
    return os.path.join(dest, "boot", vmlinuz[0]), os.path.join(dest, "lib", "modules")


def fetch_kernel_ourselves(refresh):
    """Debian's stock kernel package, downloaded (not installed) and partly unpacked.

    Once one is cached it is used without asking apt again, unless refresh is set
    (`ember-sandbox prepare`)."""
    cached = cached_kernel()
    if cached and not refresh:
        return kernel_paths(cached)
    proc = subprocess.run(["apt-cache", "depends", "linux-image-amd64"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    m = re.search(r"Depends:\s*(linux-image-[0-9][^\s]*-amd64)\b", proc.stdout)
    if not m:
        raise SandboxError("cannot resolve linux-image-amd64 with apt-cache (run apt-get update?): "
                           + proc.stderr.strip())
    package = m.group(1)
    dest = os.path.join(cache_root(), "debian-kernel", package)
    done = os.path.join(dest, ".complete")
    with CacheLock("debian-kernel"):
        if not os.path.exists(done):
            log("fetching the outer VM's kernel: apt-get download %s" % package)
            shutil.rmtree(dest, ignore_errors=True)
            os.makedirs(dest)
            with tempfile.TemporaryDirectory(dir=os.path.dirname(dest)) as tmp:
                dl = subprocess.run(["apt-get", "download", "-q", package], cwd=tmp,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                debs = [f for f in os.listdir(tmp) if f.endswith(".deb")]
                if dl.returncode != 0 or not debs:
                    raise SandboxError("apt-get download %s failed:\n%s" % (package, dl.stdout))
                patterns = ["./boot/vmlinuz-*"] + ["*/%s.ko*" % m for m in kModules]
                cmd = "dpkg-deb --fsys-tarfile %s | tar -x -C %s --wildcards %s" % (
                    shlex.quote(os.path.join(tmp, debs[0])), shlex.quote(dest),
                    " ".join(shlex.quote(p) for p in patterns))
                ex = subprocess.run(["/bin/sh", "-c", cmd], stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
                if ex.returncode != 0:
                    raise SandboxError("unpacking %s failed:\n%s" % (debs[0], ex.stdout))
            open(done, "w").close()
    return kernel_paths(dest)


def kernel_override():
    return [os.environ.get("EMBER_SANDBOX_VMLINUZ", ""),
            os.environ.get("EMBER_SANDBOX_MODULES", "")]


def outer_kernel(refresh=False):
    """Returns (vmlinuz, {module name: .ko path})."""
    vmlinuz, modules = kernel_override()
    if not (vmlinuz and modules) and os.access(kGuestKernelFetcher, os.X_OK):
        proc = subprocess.run([kGuestKernelFetcher], stdout=subprocess.PIPE, text=True)
        values = dict(re.findall(r"^(VMLINUZ|MODULES)=(.*)$", proc.stdout, re.M))
        if proc.returncode == 0 and "VMLINUZ" in values and "MODULES" in values:
            vmlinuz, modules = values["VMLINUZ"].strip(), values["MODULES"].strip()
        else:
            log("warning: %s failed (status %d); fetching the kernel here" % (
                kGuestKernelFetcher, proc.returncode))
    if not (vmlinuz and modules):
        vmlinuz, modules = fetch_kernel_ourselves(refresh)
    if not os.path.isfile(vmlinuz):
        raise SandboxError("outer VM kernel not found: %s" % vmlinuz)
    return vmlinuz, find_module_files(modules)


def find_tool(candidates):
    for c in candidates:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return os.path.realpath(c)
    return None


def base_inputs(refresh=False):
    """Everything the base archive is made of, as (kind, archive path, host path) tuples."""
    vmlinuz, modules = outer_kernel(refresh)
    busybox = find_tool(["/bin/busybox", "/usr/bin/busybox"])
    if not busybox:
        raise SandboxError("busybox not found (apt-get install busybox-static)")
    items = [("file", "/bin/busybox", busybox)]
    for name in kModules:
        items.append(("module", "/lib/modules/ember/%s.ko" % name, modules[name]))
    libs = set()
    for dest, candidates in kExtraTools.items():
        path = find_tool(candidates)
        if not path:
            log("warning: %s not found on the host; the outer VM will lack it" % candidates[0])
            continue
        items.append(("file", dest, path))
        libs.update(shared_libraries(path))
        if dest.endswith("qemu-system-x86_64") and os.path.isdir(kQemuFirmwareDir):
            items.append(("tree", kQemuFirmwareDir, kQemuFirmwareDir))
    for lib in sorted(libs):
        items.append(("file", lib, lib))
    return vmlinuz, items


def format_key():
    """What, beside the input files, decides the base archive's content."""
    recipe = [kBaseFormat, kInitScript, kModules, sorted(kExtraTools), sorted(kExtraLinks)]
    return hashlib.sha256(json.dumps(recipe).encode()).hexdigest()[:16]


def input_stats(vmlinuz, items):
    """(path, size, mtime) of every host file the base archive is made of."""
    stats = []
    for kind, _, src in [("kernel", "vmlinuz", vmlinuz)] + items:
        paths = [src]
        if kind == "tree":
            paths = sorted(os.path.join(r, f) for r, _, fs in os.walk(src, followlinks=True)
                           for f in fs)
        for p in paths:
            st = os.stat(p)
            stats.append([p, st.st_size, st.st_mtime_ns])
    return stats


def input_key(vmlinuz, items):
    h = hashlib.sha256(format_key().encode())
    h.update(json.dumps([[kind, dest] for kind, dest, _ in items]).encode())
    h.update(json.dumps(input_stats(vmlinuz, items)).encode())
    return h.hexdigest()[:16]


def busybox_applets(busybox):
    proc = subprocess.run([busybox, "--list-full"], stdout=subprocess.PIPE, text=True, check=True)
    return [line.strip() for line in proc.stdout.splitlines() if line.strip()]


def write_base(path, items):
    with open(path, "wb") as f:
        w = CpioWriter(f)
        for d in ["bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "run",
                  "work", "sandbox", "lib/modules/ember"]:
            w.add_dir(d)
        w.add_data("etc/passwd", b"root:x:0:0:root:/work:/bin/sh\n")
        w.add_data("etc/group", b"root:x:0:\n")
        w.add_data("init", kInitScript.encode(), 0o755)
        # Busybox applets never shadow a real tool, whichever PATH folder either is in.
        provided = {os.path.basename(dest) for _, dest, _ in items} | {
            os.path.basename(k) for k in kExtraLinks}
        for kind, dest, src in items:
            if kind == "tree":
                w.add_tree(dest, src)
            elif kind == "module" and src.endswith(".xz"):
                with lzma.open(src) as m:
                    w.add_data(dest, m.read())
            else:
                w.add_file(dest, src)
        for link, target in kExtraLinks.items():
            if target in [os.path.basename(d) for _, d, _ in items]:
                w.add_symlink(link, target)
        busybox = [src for _, dest, src in items if dest == "/bin/busybox"][0]
        for applet in busybox_applets(busybox):
            if os.path.basename(applet) not in provided:
                w.add_symlink(applet, "/bin/busybox")
        w.finish()
        return sorted(w.paths)


def extract_vmlinux(bzimage, out_path):
    """Unpacks a bzImage's compressed payload to an ELF vmlinux, if it can boot through PVH.

    QEMU starts such an ELF directly at its PVH entry point, which skips the in-guest
    decompression: several seconds under TCG. Returns False when that is not possible."""
    with open(bzimage, "rb") as f:
        data = f.read()
    if len(data) < 0x250 or data[0x202:0x206] != b"HdrS":
        return False
    setup_sects = data[0x1F1] or 4
    payload_offset, payload_length = struct.unpack_from("<II", data, 0x248)
    start = (setup_sects + 1) * 512 + payload_offset
    payload = data[start:start + payload_length]
    try:
        if payload.startswith(b"\xfd7zXZ\x00"):
            elf = lzma.LZMADecompressor(lzma.FORMAT_XZ).decompress(payload)
        elif payload.startswith(b"\x1f\x8b"):
            elf = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(payload)
        elif payload.startswith(b"BZh"):
            elf = bz2.BZ2Decompressor().decompress(payload)
        elif payload.startswith(b"\x5d\x00\x00"):
            elf = lzma.LZMADecompressor(lzma.FORMAT_ALONE).decompress(payload)
        else:
            return False
    except (lzma.LZMAError, zlib.error, OSError, EOFError):
        return False
    # XEN_ELFNOTE_PHYS32_ENTRY (18) marks the PVH entry point QEMU needs.
    if not elf.startswith(b"\x7fELF") or b"\x12\x00\x00\x00Xen\x00" not in elf:
        return False
    with open(out_path + ".tmp", "wb") as f:
        f.write(elf)
    os.replace(out_path + ".tmp", out_path)
    return True


kPointerMaxAgeS = 7 * 24 * 3600


def current_base():
    """The base image the last full check chose, if none of its inputs changed since.

    A warm start thus costs a few stat calls instead of an apt query and ldd runs; a full
    check runs again after a week (a newer Debian kernel) or on `ember-sandbox prepare`."""
    try:
        with open(os.path.join(cache_root(), "sandbox-current.json")) as f:
            cur = json.load(f)
        if (cur["format"] != format_key() or cur["override"] != kernel_override() or
                time.time() - cur["checked"] > kPointerMaxAgeS):
            return None
        for path, size, mtime_ns in cur["inputs"]:
            st = os.stat(path)
            if st.st_size != size or st.st_mtime_ns != mtime_ns:
                return None
        with open(os.path.join(cur["dir"], "manifest")) as f:
            lines = f.read().splitlines()
        os.utime(os.path.join(cur["dir"], "manifest"))
        return (lines[0].split(" ", 1)[1], os.path.join(cur["dir"], "base.cpio"),
                set(lines[1:]))
    except (OSError, ValueError, KeyError, IndexError):
        return None


def prune_bases(keep):
    """Deletes base images of other inputs not used for a week."""
    root = cache_root()
    for d in os.listdir(root):
        path = os.path.join(root, d)
        if d.startswith("sandbox-") and os.path.isdir(path) and path != keep:
            try:
                age = time.time() - os.path.getmtime(os.path.join(path, "manifest"))
            except OSError:
                age = kPointerMaxAgeS + 1
            if age > kPointerMaxAgeS:
                shutil.rmtree(path, ignore_errors=True)


def base_image(refresh=False):
    """Returns (kernel to boot, base archive path, set of paths in it, cache status)."""
    if not refresh:
        cur = current_base()
        if cur:
            return cur + ("warm",)
    vmlinuz, items = base_inputs(refresh)
    key = input_key(vmlinuz, items)
    d = os.path.join(cache_root(), "sandbox-" + key)
    archive = os.path.join(d, "base.cpio")
    manifest = os.path.join(d, "manifest")
    status = "warm"
    with CacheLock("sandbox-base"):
        if not os.path.exists(manifest):
            status = "cold"
            start = time.monotonic()
            os.makedirs(d, exist_ok=True)
            tmp = archive + ".tmp"
            paths = write_base(tmp, items)
            os.replace(tmp, archive)
            kernel = vmlinuz
            if extract_vmlinux(vmlinuz, os.path.join(d, "vmlinux")):
                kernel = os.path.join(d, "vmlinux")
            with open(manifest + ".tmp", "w") as f:
                f.write("kernel %s\n" % kernel)
                f.writelines(p + "\n" for p in paths)
            os.replace(manifest + ".tmp", manifest)
            log("built base image %s (%.1f MB) in %.1f s" % (
                archive, os.path.getsize(archive) / 1e6, time.monotonic() - start))
        pointer = os.path.join(cache_root(), "sandbox-current.json")
        with open(pointer + ".tmp", "w") as f:
            json.dump({"format": format_key(), "override": kernel_override(),
                       "checked": time.time(), "dir": d,
                       "inputs": input_stats(vmlinuz, items)}, f)
        os.replace(pointer + ".tmp", pointer)
        prune_bases(d)
    with open(manifest) as f:
        lines = f.read().splitlines()
    return lines[0].split(" ", 1)[1], archive, set(lines[1:]), status
