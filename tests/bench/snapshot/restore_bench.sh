#!/bin/bash
# Snapshot restore benchmark (prints, does not assert). In one sandbox run, for 1 vCPU / 128 MiB
# and 2 vCPU / 1024 MiB: Ember boots a guest that prints "TICK <uptime>" in a loop, pauses it and
# takes a Full snapshot, then restores it ROUNDS times (default 5) with the File and the Uffd
# (ember-uffd-handler) memory backends in fresh processes; QEMU's microvm boots the same kernel,
# rootfs and command line, saves by migration to a file and restores with -incoming.
# Prints medians of: boot (InstanceStart, resp. QEMU launch -> first TICK), save (create,
# resp. migrate), restore (PUT /snapshot/load -> 204 and -> first TICK after the saved one;
# QEMU launch -> first TICK), restore/boot and Ember/QEMU ratios. Goal: restore under a tenth of
# a boot and far below QEMU. "first new TICK" includes what is left of the guest's sleep at the
# save (< RESTORE_BENCH_TICK) and, for the lazy backends, the guest's page faults.
# Usage: tests/bench/snapshot/restore_bench.sh EMBER_BINARY [ROUNDS] [UFFD_HANDLER]
#   UFFD_HANDLER defaults to ember-uffd-handler next to EMBER_BINARY or in its vmm/snapshot/.
#   RESTORE_BENCH_CFGS (default "1x128 2x1024", VCPUSxMIB) and RESTORE_BENCH_TICK (seconds
#   between the guest's TICK lines, default 0.05) change the workload; RESTORE_BENCH_ENGINES
#   (default "Sync Async") the root drive's io_engines, each restored side by side; RESTORE_BENCH_SKIP_EMBER=1
#   or RESTORE_BENCH_SKIP_QEMU=1 leaves one side out.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
# shellcheck source=../../integration/lib/host.sh
source "$root/tests/integration/lib/host.sh"
ember=${1:?usage: restore_bench.sh EMBER_BINARY [ROUNDS] [UFFD_HANDLER]}
rounds=${2:-5}
handler=${3:-$(sibling_binary "$ember" ember-uffd-handler)}
[[ -x "$handler" ]] || { echo "restore_bench: ember-uffd-handler not found; pass it as 3rd argument" >&2; exit 2; }
curl_bin="$(command -v curl)" || { echo "restore_bench: curl is not installed" >&2; exit 2; }
read -r -a cfgs <<<"${RESTORE_BENCH_CFGS:-1x128 2x1024}"
tick=${RESTORE_BENCH_TICK:-0.05}
eval "$("$root/resources/guest/images.sh" --ensure)"
# Hardware KVM runs it directly; anything else (no /dev/kvm, kvm_pvm) uses the nested sandbox.
choose_sandbox_mode
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
# 4 GiB: a 1 GiB guest, its restored copy and the snapshot files (tmpfs) side by side.
"$root/resources/sandbox/ember-sandbox" run --timeout 2400 --mem 4096 --retry-outer-crash 1 \
    --bin "$ember" --bin "$handler" --bin "$curl_bin" \
    --file "$BZIMAGE:bzImage" --file "$ROOTFS:rootfs.ext4" \
    --file "$here/restore_bench_in_vm.sh:bench.sh" --file "$here/bench_lib_in_vm.sh:bench_lib_in_vm.sh" \
    -- env SKIP_EMBER="${RESTORE_BENCH_SKIP_EMBER:-0}" SKIP_QEMU="${RESTORE_BENCH_SKIP_QEMU:-0}" \
    ENGINES="${RESTORE_BENCH_ENGINES:-Sync Async}" \
    bash bench.sh "$rounds" "$tick" "${cfgs[@]}" | tee "$out"

python3 - "$out" <<'PY'
import statistics, sys

def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None

def num(value):
    return int(value) if value is not None and value.lstrip("-").isdigit() else None

def spread(values):
    """median [min-max] of the values that happened."""
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    return f"{statistics.median(values):.0f} [{min(values):.0f}-{max(values):.0f}]"

# Keys: (cfg, vmm, engine); QEMU's engine is "-" (its drive is always the same).
boot, save, restore = {}, {}, {}
for line in open(sys.argv[1]):
    words = line.split()
    if not words or words[0] not in ("BOOT", "SAVE", "RESTORE"):
        continue
    f = dict(w.split("=", 1) for w in words[1:] if "=" in w)
    if "error" in f:
        continue
    key = (f["cfg"], f["vmm"], f.get("engine", "-"))
    if words[0] == "BOOT":
        boot[key] = num(f.get("tick_ms"))
    elif words[0] == "SAVE":
        save[key] = num(f.get("save_ms"))
    else:
        restore.setdefault(key + (f["backend"],), []).append(f)

def fmt(value, unit=" ms"):
    return "n/a" if value is None else f"{value:.0f}{unit}"

def ratio(a, b):
    return "n/a" if a is None or not b else f"{a / b:.3f}"

print()
print("restore_bench: boot: InstanceStart (QEMU: launch) -> first TICK. save: snapshot/create"
      " (QEMU: migrate to a file).\nload done: load request -> 204 (QEMU: launch -> migration completed)."
      " restore: load request (QEMU: launch) -> first new TICK,\nmedian [min-max] over the rounds;"
      " launch: process start -> first new TICK (Ember: start, API socket, load).\n"
      "engine: the root drive's io_engine (Async = io_uring).")
head = (f"{'shape':8s} {'VMM / memory':16s} {'engine':6s} {'boot':>9s} {'save':>9s} {'load done':>9s} "
        f"{'restore':>18s} {'launch':>9s} {'restore/boot':>12s}  rounds ok")
print(head)
print("-" * len(head))
summary = {}
engines = sorted({k[2] for k in restore if k[1] == "ember"})
for cfg in sorted({k[0] for k in list(boot) + list(restore)}, key=lambda c: (len(c), c)):
    rows = [("ember", e, b) for b in ("File", "Uffd") for e in engines] + [("qemu", "-", "incoming")]
    for vmm, engine, backend in rows:
        runs = restore.get((cfg, vmm, engine, backend), [])
        ticks = [num(r.get("tick_ms")) for r in runs]
        # Load done: Ember's 204 to PUT /snapshot/load, QEMU's MIGRATION completed event.
        resp = [num(r.get("resp_ms" if vmm == "ember" else "loaded_ms")) for r in runs
                if r.get("status", "204") == "204"]
        ok = [t for t in ticks if t is not None]
        launch = med([num(r.get("launch_tick_ms")) for r in runs])
        b, s = boot.get((cfg, vmm, engine)), save.get((cfg, vmm, engine))
        r = med(ok)
        summary[(cfg, vmm, engine, backend)] = (r, ok)
        summary[(cfg, vmm, engine, backend, "launch")] = launch
        label = f"{vmm} {backend}" if vmm == "ember" else "qemu -incoming"
        print(f"{cfg:8s} {label:16s} {engine:6s} {fmt(b):>9s} {fmt(s):>9s} {fmt(med(resp)):>9s} "
              f"{spread(ok):>18s} {fmt(launch):>9s} {ratio(r, b):>12s}  {len(ok)}/{len(runs)}")
    print()
for cfg in sorted({k[0] for k in summary}, key=lambda c: (len(c), c)):
    q = summary.get((cfg, "qemu", "-", "incoming"), (None, []))[0]
    for backend in ("File", "Uffd"):
        for engine in engines:
            e = summary.get((cfg, "ember", engine, backend), (None, []))[0]
            el = summary.get((cfg, "ember", engine, backend, "launch"))
            print(f"restore_bench: {cfg} Ember {backend} ({engine})/QEMU restore = {ratio(e, q)} "
                  f"(both from process start: {ratio(el, q)}); "
                  f"restore/boot = {ratio(e, boot.get((cfg, 'ember', engine)))} (goal: < 0.1)")
        if "Sync" in engines and "Async" in engines:
            sync = summary.get((cfg, "ember", "Sync", backend), (None, []))
            uring = summary.get((cfg, "ember", "Async", backend), (None, []))
            # Per-round ratios: rounds alternate engines, so round i of each ran side by side.
            pairs = [a / s for a, s in zip(uring[1], sync[1]) if s]
            extra = (f"{statistics.median(pairs):.3f} [{min(pairs):.3f}-{max(pairs):.3f}]"
                     if pairs else "n/a")
            loads = [num(a.get("resp_ms")) / num(b.get("resp_ms"))
                     for a, b in zip(restore.get((cfg, "ember", "Async", backend), []),
                                     restore.get((cfg, "ember", "Sync", backend), []))
                     if num(a.get("resp_ms")) and num(b.get("resp_ms"))]
            loaded = (f"{statistics.median(loads):.3f} [{min(loads):.3f}-{max(loads):.3f}]"
                      if loads else "n/a")
            # The load (-> 204) is where the engine's setup goes; the first TICK also depends on
            # where each snapshot caught its guest (two boots, two snapshots).
            print(f"restore_bench: {cfg} {backend} Async (io_uring)/Sync: load done {loaded}, "
                  f"first TICK {extra}, per round (goal: < 1.05)")
    es = save.get((cfg, "ember", engines[0] if engines else "-"))
    print(f"restore_bench: {cfg} Ember/QEMU save = {ratio(es, save.get((cfg, 'qemu', '-')))}")
PY
