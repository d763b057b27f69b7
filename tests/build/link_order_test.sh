#!/usr/bin/env bash
# The link order (resources/link-order/ember.order) is applied: the functions it lists that the
# built ember has sit packed at the start of its code (at least 95% of their bytes within the
# first 1.2 times their size), not spread across it as archive order puts them (about 37%).
# Also fails when the list has gone stale: fewer than half of its names left in the build
# (rerun resources/link-order/refresh.sh).
# Usage: link_order_test.sh EMBER_BINARY ORDER_FILE
set -euo pipefail
ember=${1:?usage: link_order_test.sh EMBER_BINARY ORDER_FILE}
order=${2:?usage: link_order_test.sh EMBER_BINARY ORDER_FILE}
python3 - "$ember" "$order" <<'PY'
import subprocess, sys

ember, order_file = sys.argv[1], sys.argv[2]
listed = {line.strip() for line in open(order_file) if line.strip()}
nm = subprocess.run(["nm", "--defined-only", "-S", ember], capture_output=True, text=True,
                    check=True).stdout.splitlines()
names, code = set(), []
for line in nm:
    fields = line.split()
    if len(fields) == 4 and fields[3] in listed:
        names.add(fields[3])
        if fields[2] in "tTwW":
            code.append((int(fields[0], 16), int(fields[1], 16)))
sections = subprocess.run(["readelf", "-SW", ember], capture_output=True, text=True,
                          check=True).stdout.splitlines()
text = next(line.split() for line in sections if " .text " in line)
text_start = int(text[text.index(".text") + 2], 16)
fail = False
if len(names) * 2 < len(listed):
    print(f"FAIL: only {len(names)} of the {len(listed)} listed names are in this ember: "
          "rerun resources/link-order/refresh.sh")
    fail = True
size = sum(s for _, s in code)
packed = sum(s for a, s in code if a + s <= text_start + 1.2 * size)
share = packed / size if size else 0.0
print(f"link_order: {len(names)} of {len(listed)} listed names in {ember}; {len(code)} functions, "
      f"{size} bytes, {100 * share:.1f}% of them within the first {int(1.2 * size)} bytes of .text")
if share < 0.95:
    print("FAIL: the listed functions are not packed at the start of .text: the link did not "
          "apply the order")
    fail = True
print("link_order_test: FAIL" if fail else "link_order_test: PASS")
sys.exit(1 if fail else 0)
PY
