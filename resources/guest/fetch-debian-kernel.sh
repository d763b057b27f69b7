#!/usr/bin/env bash
# Fetches Debian's stock x86_64 kernel (package linux-image-amd64's dependency) without
# installing it, unpacks it into the cache and prints where the kernel and its modules are.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
    cat <<USAGE
Usage: $(basename "$0") [--force]

Downloads the package linux-image-amd64 depends on (e.g. linux-image-6.1.0-NN-amd64) with
'apt-get download' (no install, no root needed beyond apt's own), unpacks it with 'dpkg -x'
into \$EMBER_CACHE_DIR/debian-kernel-<package>_<linux-image-amd64 version>/ (EMBER_CACHE_DIR defaults to
\$HOME/.cache/ember) and prints on stdout, one per line (suitable for eval):
  VMLINUZ=<path to boot/vmlinuz-*, a bzImage>
  MODULES=<path to lib/modules/<release>>
A warm run (same candidate version already unpacked) downloads nothing. If apt knows no
candidate (no package lists: run apt-get update), the newest cached copy is used.

Options:
  --force     download and unpack again
  -h, --help  this text
USAGE
}

force=0
while (($#)); do
    case "$1" in
        --force) force=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) ember_die "unknown argument $1 (see --help)" ;;
    esac
done

cache="$(ember_cache_dir)"

print_paths() {
    local dir="$1" vmlinuz modules
    vmlinuz="$(find "$dir/boot" -maxdepth 1 -name 'vmlinuz-*' | sort | tail -1)"
    modules="$(find "$dir/lib/modules" -mindepth 1 -maxdepth 1 -type d | sort | tail -1)"
    [[ -n "$vmlinuz" && -n "$modules" ]] || ember_die "$dir holds no boot/vmlinuz-* or lib/modules/*"
    echo "VMLINUZ=$vmlinuz"
    echo "MODULES=$modules"
}

# One apt-cache call (about 1 s of CPU): the metapackage's candidate version and the image
# package it depends on. Debian bumps the metapackage with every kernel upload.
meta="$(apt-cache show --no-all-versions linux-image-amd64 2>/dev/null || true)"
version="$(awk '$1 == "Version:" { print $2; exit }' <<<"$meta")"
package="$(awk '$1 == "Depends:" { print $2; exit }' <<<"$meta" | tr -d ',')"
[[ "$package" == linux-image-* ]] || package=""
if [[ -z "$package" || -z "$version" || "$version" == "(none)" ]]; then
    newest="$(find "$cache" -maxdepth 1 -type d -name 'debian-kernel-*' | sort -V | tail -1)"
    [[ -n "$newest" ]] || ember_die "apt knows no linux-image-amd64 candidate and nothing is cached (run apt-get update)"
    ember_note "apt knows no linux-image-amd64 candidate; using cached $(basename "$newest")"
    print_paths "$newest"
    exit 0
fi

out="$cache/debian-kernel-${package}_${version}"
exec 9>"$cache/debian-kernel.lock"
flock 9
if [[ -d "$out" ]] && ((!force)); then
    print_paths "$out"
    exit 0
fi

start=$SECONDS
work="$(mktemp -d "$cache/.debian-kernel.XXXXXX")"
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work"  # apt's _apt user must be able to write the download here
ember_note "downloading $package (linux-image-amd64 $version)"
# Run as root with a cache under /root, apt warns that its _apt user cannot reach the folder
# and downloads unsandboxed: expected, so the log is shown only on failure.
(cd "$work" && apt-get download -q=2 "$package") >"$work/apt.log" 2>&1 \
    || { cat "$work/apt.log" >&2; ember_die "apt-get download $package failed (network? apt-get update?)"; }
deb="$(find "$work" -maxdepth 1 -name '*.deb' | head -1)"
[[ -n "$deb" ]] || ember_die "apt-get download left no .deb"
dpkg -x "$deb" "$work/tree"
rm -rf "$out"
mv -T "$work/tree" "$out"
ember_note "unpacked $(basename "$deb") in $((SECONDS - start)) s"
print_paths "$out"
