#!/bin/bash
# Time to first answer (prints, does not assert). In one sandbox run (see
# first_answer_bench_in_vm.sh): a guest runs tests/bench/snapshot/guestfunc.c on its serial
# console; Ember snapshots it at "FUNC READY" and QEMU's microvm saves it by migration at the same
# point; then, in ROUNDS rounds alternating the backends, a fresh process loads it and answers one
# request: Ember with the File backend, Uffd served lazily, Uffd with the working set recorded by a
# first invocation (ember-uffd-handler --record, then --prefetch), File with that record
# (mem_backend.working_set_path), QEMU with -incoming; and a fresh
# boot of each (boot-to-first-answer). Timed from the load request (PUT /snapshot/load with
# resume_vm; QMP migrate-incoming; for boots InstanceStart, resp. QEMU's launch) to the guest's
# "ANSWER" line. Goal (issue 17): recorded-working-set Uffd at least 2x faster than File, and
# never slower.
# Usage: tests/bench/snapshot/first_answer_bench.sh EMBER_BINARY [ROUNDS] [UFFD_HANDLER]
#   FIRST_ANSWER_FUNC (guestfunc's arguments, default "16 /root/data 4": 16 MiB anonymous memory
#   and 4 MiB of a file), FIRST_ANSWER_SHAPE (VCPUSxMIB, default 1x128), FIRST_ANSWER_SKIP_QEMU=1.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
# shellcheck source=../../integration/lib/host.sh
source "$root/tests/integration/lib/host.sh"
ember=${1:?usage: first_answer_bench.sh EMBER_BINARY [ROUNDS] [UFFD_HANDLER]}
rounds=${2:-3}
handler=${3:-$(sibling_binary "$ember" ember-uffd-handler)}
[[ -x "$handler" ]] || { echo "first_answer_bench: ember-uffd-handler not found; pass it as 3rd argument" >&2; exit 2; }
curl_bin="$(command -v curl)" || { echo "first_answer_bench: curl is not installed" >&2; exit 2; }
func=${FIRST_ANSWER_FUNC:-16 /root/data 4}
shape=${FIRST_ANSWER_SHAPE:-1x128}
eval "$("$root/resources/guest/images.sh" --ensure)"
choose_sandbox_mode
work="$(mktemp -d /tmp/ember-first-answer.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# The function and its data in a copy of the rootfs: /sbin/guestfunc and /root/data (8 MiB).
"$here/guestfunc_rootfs.sh" "$ROOTFS" "$work/rootfs.ext4" /root/data 8

out="$work/out.txt"
# A frozen or crashed outer VM (TCG under nested load) reruns it all once: only the lines after
# the last BENCH header count.
"$root/resources/sandbox/ember-sandbox" run --timeout 1800 --mem 3072 --retry-outer-crash 1 \
    --bin "$ember" --bin "$handler" --bin "$curl_bin" \
    --file "$BZIMAGE:bzImage" --file "$work/rootfs.ext4:rootfs.ext4" \
    --file "$here/first_answer_bench_in_vm.sh:bench.sh" --file "$here/bench_lib_in_vm.sh:bench_lib_in_vm.sh" \
    -- env SKIP_QEMU="${FIRST_ANSWER_SKIP_QEMU:-0}" \
    bash bench.sh "$rounds" "${shape%x*}" "${shape#*x}" "$func" | tee "$out"

python3 - "$out" <<'PY'
import statistics, sys

runs = {}
lines = open(sys.argv[1]).read().splitlines()
starts = [i for i, l in enumerate(lines) if l.startswith("BENCH rounds=")]
for line in lines[starts[-1] if starts else 0:]:
    words = line.split()
    if not words or words[0] != "RESULT":
        continue
    f = dict(w.split("=", 1) for w in words[1:] if "=" in w)
    if "error" in f or f.get("round") == "record":
        continue
    runs.setdefault(f["backend"], []).append(f)

def values(backend, field="answer_ms"):
    return [int(r[field]) for r in runs.get(backend, []) if r.get(field, "none").isdigit()]

def med(backend):
    v = values(backend)
    return statistics.median(v) if v else None

def cell(backend):
    v = values(backend)
    if not v:
        return "n/a"
    return f"{statistics.median(v):.0f} [{min(v)}-{max(v)}]"

def ratio(a, b):
    return "n/a" if a is None or not b else f"{a / b:.2f}"

rows = [
    ("boot", "Ember boot", "boot", "qboot"),
    ("File", "Ember File", "boot", "incoming"),
    ("Uffd", "Ember Uffd", "boot", "incoming"),
    ("UffdWS", "Ember Uffd+WS", "boot", "incoming"),
    ("FileWS", "Ember File+WS", "boot", "incoming"),
    ("qboot", "QEMU boot", "qboot", None),
    ("incoming", "QEMU -incoming", "qboot", None),
]
print()
print("first_answer_bench: load request (boot: InstanceStart / QEMU launch) -> guest's ANSWER line,"
      " ms median [min-max];\nguest us: the function's own time inside the guest (median);"
      " Ember/QEMU: against QEMU's -incoming (boots: QEMU's boot).")
head = (f"{'backend':16s} {'ms median [min-max]':>22s} {'to File':>8s} {'to boot':>8s}"
        f" {'Ember/QEMU':>10s} {'guest us':>9s} rounds")
print(head)
print("-" * len(head))
file_ms = med("File")
for key, label, boot_key, peer in rows:
    m = med(key)
    guest = values(key, "guest_us")
    print(f"{label:16s} {cell(key):>22s} {ratio(m, file_ms):>8s} {ratio(m, med(boot_key)):>8s}"
          f" {ratio(m, med(peer)) if peer else '':>10s}"
          f" {statistics.median(guest) if guest else 'n/a':>9} {len(values(key))}")
ws, f = med("UffdWS"), med("File")
by_round = lambda b: {r["round"]: int(r["answer_ms"]) for r in runs.get(b, []) if r["answer_ms"].isdigit()}
pairs = sorted((r, by_round("File")[r], w) for r, w in by_round("UffdWS").items() if r in by_round("File"))
if ws and f:
    print(f"\nfirst_answer_bench: File / Uffd+WS = {f / ws:.2f}x (goal: >= 2); per round (File vs "
          f"Uffd+WS, the same round): {', '.join(f'{p[1]} vs {p[2]}' for p in pairs)}; "
          f"Uffd+WS slower than File in {sum(p[2] > p[1] for p in pairs)} of {len(pairs)} rounds "
          f"(goal: none)")
fws = med("FileWS")
if fws and f:
    pairs = sorted((r, by_round("File")[r], w) for r, w in by_round("FileWS").items() if r in by_round("File"))
    print(f"first_answer_bench: File / File+WS = {f / fws:.2f}x; per round (File vs File+WS): "
          f"{', '.join(f'{p[1]} vs {p[2]}' for p in pairs)}; File+WS slower than File in "
          f"{sum(p[2] > p[1] for p in pairs)} of {len(pairs)} rounds")
PY
