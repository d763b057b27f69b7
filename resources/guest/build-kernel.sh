#!/usr/bin/env bash
# Builds Ember's minimal guest kernel (vmlinux for PVH entry, bzImage for the Linux boot
# protocol) from Debian's linux-source-6.1, caching the result by content.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
    cat <<EOF
Usage: $(basename "$0") [--force] [--print-paths] [--jobs N]

Builds a minimal x86_64 guest kernel: make tinyconfig, merge kernel.fragment, make olddefconfig,
check that every fragment option survived, then make vmlinux bzImage.

The result is cached in \$EMBER_CACHE_DIR/kernel-<key>/{vmlinux,bzImage,config}
(EMBER_CACHE_DIR defaults to \$HOME/.cache/ember) where <key> hashes kernel.fragment, the kernel
source version and this script: a warm run prints the paths at once. \$EMBER_CACHE_DIR/kernel is
a symlink to the newest build.

Prints on stdout, one per line (suitable for eval):
  VMLINUX=<path>   BZIMAGE=<path>   KERNEL_CONFIG=<path>

Options:
  --force         rebuild even if the cache holds this key
  --print-paths   print the paths if cached, exit 1 (building nothing) otherwise
  --jobs N        make -jN (default: \$EMBER_KERNEL_JOBS or 2)
  -h, --help      this text

Environment: EMBER_CACHE_DIR, EMBER_KERNEL_SOURCE (default /usr/src/linux-source-6.1.tar.xz),
EMBER_KERNEL_JOBS.
EOF
}

force=0
print_only=0
jobs="${EMBER_KERNEL_JOBS:-2}"
while (($#)); do
    case "$1" in
        --force) force=1; shift ;;
        --print-paths) print_only=1; shift ;;
        --jobs) (($# >= 2)) || ember_die "--jobs needs a value"; jobs="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) ember_die "unknown argument $1 (see --help)" ;;
    esac
done
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || ember_die "--jobs: not a positive number: $jobs"

cache="$(ember_cache_dir)"
out="$(ember_kernel_dir)"

print_paths() {
    echo "VMLINUX=$out/vmlinux"
    echo "BZIMAGE=$out/bzImage"
    echo "KERNEL_CONFIG=$out/config"
}

is_cached() {
    [[ -s "$out/vmlinux" && -s "$out/bzImage" && -s "$out/config" ]]
}

if ((print_only)); then
    is_cached || { ember_note "no kernel cached for key $(basename "$out"); run $(basename "$0")"; exit 1; }
    print_paths
    exit 0
fi

# One build at a time per cache; a second caller waits and then finds the result cached.
exec 9>"$cache/kernel.lock"
flock 9

if is_cached && ((!force)); then
    ln -sfn "$(basename "$out")" "$cache/kernel.tmp-link" && mv -Tf "$cache/kernel.tmp-link" "$cache/kernel"
    print_paths
    exit 0
fi

for tool in make gcc flex bison bc tar xz perl; do
    command -v "$tool" >/dev/null || ember_die "$tool not found (run resources/install-deps.sh)"
done
[[ -e /usr/include/libelf.h ]] || ember_die "libelf headers missing (apt-get install libelf-dev)"

start=$SECONDS
work="$(mktemp -d "$cache/.kernel-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
log="$work/build.log"

tarball="$(ember_kernel_source)"
ember_note "extracting $tarball"
tar -xJf "$tarball" -C "$work"
src="$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'linux*' | head -1)"
[[ -n "$src" && -f "$src/Makefile" ]] || ember_die "$tarball holds no kernel tree"

export KBUILD_BUILD_USER=ember KBUILD_BUILD_HOST=ember
kmake() { make -C "$src" -j"$jobs" "$@" >>"$log" 2>&1 || { tail -n 40 "$log" >&2; ember_die "make $* failed (log above)"; }; }

ember_note "configuring (tinyconfig + kernel.fragment)"
kmake tinyconfig
(cd "$src" && scripts/kconfig/merge_config.sh -m .config "$EMBER_GUEST_DIR/kernel.fragment") >>"$log" 2>&1 \
    || { tail -n 20 "$log" >&2; ember_die "merge_config.sh failed"; }
kmake olddefconfig

# Every fragment line must survive olddefconfig: a missing dependency drops options silently.
missing=()
while IFS= read -r line; do
    if [[ "$line" =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
        grep -qxF -- "$line" "$src/.config" || missing+=("$line (have: $(grep -E "^(# )?${BASH_REMATCH[1]}[= ]" "$src/.config" || echo absent))")
    elif [[ "$line" =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
        if grep -qE "^${BASH_REMATCH[1]}=" "$src/.config"; then
            missing+=("$line (have: $(grep -E "^${BASH_REMATCH[1]}=" "$src/.config"))")
        fi
    fi
done <"$EMBER_GUEST_DIR/kernel.fragment"
if ((${#missing[@]})); then
    echo "$(basename "$0"): error: ${#missing[@]} option(s) of kernel.fragment did not survive olddefconfig:" >&2
    printf '  %s\n' "${missing[@]}" >&2
    exit 1
fi
ember_note "all $(grep -cE '^(CONFIG_|# CONFIG_.* is not set)' "$EMBER_GUEST_DIR/kernel.fragment") fragment options present"

ember_note "building vmlinux and bzImage with -j$jobs (several minutes; log: $log)"
kmake vmlinux bzImage

stage="$work/out"
mkdir -p "$stage"
cp "$src/vmlinux" "$stage/vmlinux"
cp "$src/arch/x86/boot/bzImage" "$stage/bzImage"
cp "$src/.config" "$stage/config"
make -s -C "$src" kernelrelease >"$stage/kernelrelease" 2>/dev/null || true
# Atomic publish: a reader sees either no directory or a complete one.
rm -rf "$out"
mv -T "$stage" "$out"
ln -sfn "$(basename "$out")" "$cache/kernel.tmp-link" && mv -Tf "$cache/kernel.tmp-link" "$cache/kernel"
ember_note "built in $((SECONDS - start)) s: bzImage $(du -h "$out/bzImage" | cut -f1), vmlinux $(du -h "$out/vmlinux" | cut -f1)"
print_paths
