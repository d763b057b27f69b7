#!/bin/bash
# Clone fleet benchmark (prints, does not assert). In one sandbox run: Ember boots a 1 vCPU /
# 128 MiB guest running tests/bench/snapshot/guestfunc.c (ANON_MIB of anonymous memory plus a
# file, default 4 MiB) from a read-only rootfs, serial console only, and takes a Full snapshot at
# "FUNC READY". Then for N = 1, 8, 32 (FLEET_BENCH_SIZES), ROUNDS times (default 3): N ember
# processes, each its own --api-sock, get PUT /snapshot/load at once (File backend, the memory
# file shared through the page cache, resume_vm true; each clone's stdin carries one request
# line); and the same as "ember-ws", each load also naming the working set a first invocation
# recorded (mem_backend.working_set_path). Measured from the first load request to all N clones
# having printed their ANSWER, and
# per clone from /proc/PID/smaps: the monitor's private memory (Private_Clean + Private_Dirty of
# every mapping but the guest memory's) and the guest memory's copy-on-write pages (what the
# guest dirtied). QEMU's microvm: the same guest migrated (while running) to one file, N clones
# started at once with -incoming from it, timed from the first launch; its guest memory is
# anonymous, so its private memory is the whole guest, printed as is.
# Goals (issue #17): monitor overhead <= 4 MiB per clone beyond guest-dirtied pages; all-answer
# time linear in N with a per-clone slope <= 0.05 of one boot (InstanceStart -> FUNC READY).
# Usage: tests/bench/snapshot/fleet_bench.sh EMBER_BINARY [ROUNDS] [ANON_MIB]
#   FLEET_BENCH_SIZES (default "1 8 32"), FLEET_BENCH_SKIP_QEMU=1, FLEET_BENCH_SKIP_EMBER=1,
#   FLEET_BENCH_MEM (sandbox MiB, default 6144), FLEET_BENCH_CPUS (sandbox vCPUs, default 2).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
# shellcheck source=../../integration/lib/host.sh
source "$root/tests/integration/lib/host.sh"
ember=${1:?usage: fleet_bench.sh EMBER_BINARY [ROUNDS] [ANON_MIB]}
handler=$(sibling_binary "$ember" ember-uffd-handler)
[[ -x "$handler" ]] || { echo "fleet_bench: ember-uffd-handler not found beside $ember" >&2; exit 2; }
rounds=${2:-3}
anon_mib=${3:-4}
sizes=${FLEET_BENCH_SIZES:-1 8 32}
eval "$("$root/resources/guest/images.sh" --ensure)"
choose_sandbox_mode
work="$(mktemp -d /tmp/ember-fleet-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT
# guestfunc in a copy of the rootfs; the clones share that copy read-only.
"$here/guestfunc_rootfs.sh" "$ROOTFS" "$work/rootfs.ext4"
gcc -static -O2 -o "$work/fleet_driver" "$here/fleet_driver.c"
out="$work/out.txt"
# A rerun after the outer VM froze or crashed (the sandbox's, not Ember's: see its README) starts
# over; only the last run's lines count.
nice "$root/resources/sandbox/ember-sandbox" run --timeout 3000 --mem "${FLEET_BENCH_MEM:-6144}" \
    --retry-outer-crash 1 \
    --cpus "${FLEET_BENCH_CPUS:-2}" \
    --bin "$ember" --bin "$handler" --bin "$work/fleet_driver" \
    --file "$BZIMAGE:bzImage" --file "$work/rootfs.ext4:rootfs.ext4" \
    --file "$here/fleet_bench_in_vm.sh:bench.sh" \
    -- env SKIP_EMBER="${FLEET_BENCH_SKIP_EMBER:-0}" SKIP_QEMU="${FLEET_BENCH_SKIP_QEMU:-0}" \
    bash bench.sh "$rounds" "$anon_mib" "$sizes" | tee "$out"

python3 - "$out" <<'PY'
import statistics, sys

def fields(line):
    return dict(w.split("=", 1) for w in line.split()[1:] if "=" in w)

boot, fleet, loaded, clones = {}, {}, {}, {}
lines = open(sys.argv[1]).read().splitlines()
starts = [i for i, line in enumerate(lines) if line.startswith("BENCH rounds=")]
for line in lines[starts[-1] if starts else 0:]:
    if line.startswith("BOOT ") and "boot_ms=" in line:
        f = fields(line)
        boot.setdefault(f["vmm"], []).append(int(f["boot_ms"]))
        if f["vmm"] == "ember":
            boot.setdefault("ember-ws", []).append(int(f["boot_ms"]))
    elif line.startswith("FLEET "):
        f = fields(line)
        fleet.setdefault((f["vmm"], int(f["n"])), []).append(int(f["all_answer_ms"]))
        loaded.setdefault((f["vmm"], int(f["n"])), []).append(int(f.get("all_loaded_ms", -1)))
    elif line.startswith("CLONE "):
        f = fields(line)
        if int(f["answer_ms"]) >= 0:  # Only clones that answered: one that ended has no smaps.
            clones.setdefault((f["vmm"], int(f["n"])), []).append(f)

def mmm(values):
    values = [v for v in values if v is not None and v >= 0]
    if not values:
        return None, "n/a"
    m = statistics.median(values)
    return m, f"{m:.0f} [{min(values):.0f}-{max(values):.0f}]"

print()
print("fleet_bench: all-answering = first load request (QEMU: first launch) -> every clone's ANSWER;"
      "\nmedian [min-max] over rounds. slope = (T(N max) - T(N min)) / (N max - N min), per extra"
      " clone.\nmonitor private = Private_Clean+Private_Dirty of every mapping but guest memory (QEMU: every"
      " mapping,\nits guest memory included: anonymous, so all of it is private); of it anon = its"
      " Anonymous pages (the rest\nis file pages no other process maps: the binary's text when one"
      " clone runs; tmpfs pages count as dirty).\nguest dirtied = the memory file mapping's"
      " copy-on-write (Anonymous) pages. KiB per clone, median [min-max]\nover all clones of all"
      " rounds. all-loaded = first load request -> last 204.")
for vmm in ("ember", "ember-ws", "qemu"):
    ns = sorted(n for (v, n) in fleet if v == vmm)
    if not ns:
        continue
    b, btext = mmm(boot.get(vmm, []))
    print(f"\n{vmm}: one boot to FUNC READY = {btext} ms"
          + (" (from launch)" if vmm == "qemu" else " (InstanceStart)"))
    head = (f"{'N':>3s} {'all-answering ms':>20s} {'ok':>5s} {'all-loaded ms':>18s}"
            f" {'monitor private KiB':>22s} {'of it anon':>18s} {'guest dirtied KiB':>18s}"
            f" {'Rss KiB':>8s}")
    print(head)
    print("-" * len(head))
    meds = {}
    for n in ns:
        runs = fleet[(vmm, n)]
        m, text = mmm(runs)
        meds[n] = m
        cl = clones.get((vmm, n), [])
        ok = sum(1 for r in runs if r >= 0)
        _, mon = mmm([int(c["monitor_private_kib"]) for c in cl])
        _, anon = mmm([int(c.get("monitor_anon_kib", -1)) for c in cl])
        ember = vmm.startswith("ember")
        _, ld = mmm(loaded.get((vmm, n), [])) if ember else (None, "-")
        _, dirt = mmm([int(c["guest_anon_kib"]) for c in cl]) if ember else (None, "(in private)")
        _, rss = mmm([int(c["rss_kib"]) for c in cl])
        print(f"{n:>3d} {text:>20s} {ok:>2d}/{len(runs):<2d} {ld:>18s} {mon:>22s} {anon:>18s}"
              f" {dirt:>18s} {rss.split()[0]:>8s}")
    cpu_rows = []
    for n in ns:
        cl = clones.get((vmm, n), [])
        if cl and "user_ms" in cl[0]:
            _, cpu = mmm([int(c["user_ms"]) + int(c["sys_ms"]) for c in cl])
            _, gst = mmm([int(c["guest_ms"]) for c in cl])
            _, fn = mmm([int(c["guest_func_us"]) // 1000 for c in cl])
            cpu_rows.append(f"{n:>3d} {cpu:>24s} {gst:>22s} {fn:>22s}")
    if cpu_rows:
        print(f"per clone, median [min-max]: CPU time of its process (user+system, guest included)"
              f", of it in the guest,\nand the function's own time as the guest measured it:")
        print(f"{'N':>3s} {'process CPU ms':>24s} {'in guest ms':>22s} {'function ms (guest)':>22s}")
        for row in cpu_rows:
            print(row)
    good = [n for n in ns if meds.get(n) is not None]
    if len(good) >= 2:
        lo, hi = good[0], good[-1]
        slope = (meds[hi] - meds[lo]) / (hi - lo)
        ratio = f"{slope / b:.4f}" if b else "n/a"
        print(f"fleet_bench: {vmm} slope = {slope:.1f} ms per extra clone (N {lo} -> {hi});"
              f" slope / one boot = {ratio}" + (" (goal <= 0.05)" if vmm != "qemu" else ""))
        lmeds = {n: mmm(loaded.get((vmm, n), []))[0] for n in good}
        if vmm != "qemu" and lmeds.get(lo) is not None and lmeds.get(hi) is not None:
            lslope = (lmeds[hi] - lmeds[lo]) / (hi - lo)
            print(f"fleet_bench: {vmm} loads alone (all-loaded): {lslope:.1f} ms per extra clone;"
                  f" / one boot = {lslope / b:.4f}" if b else "")
        for a, c in zip(good, good[1:]):
            s = (meds[c] - meds[a]) / (c - a)
            print(f"fleet_bench: {vmm}   N {a} -> {c}: {s:.1f} ms per extra clone")
for vmm in ("ember", "ember-ws"):
    for n in sorted(n for (v, n) in clones if v == vmm):
        over = [int(c["monitor_private_kib"]) for c in clones[(vmm, n)]]
        print(f"fleet_bench: {vmm} monitor private per clone at N={n} = "
              f"{statistics.median(over):.0f} KiB (goal <= 4096 KiB beyond guest-dirtied pages)")
PY
