#!/usr/bin/env bash
# Installs everything Ember needs to build, test and benchmark on Debian 12.
# Idempotent: packages already present are skipped by apt, so a warm run takes seconds.
set -euo pipefail

packages=(
    # Build.
    build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev lld file
    # Style checks in tests/run.sh.
    clang-format clang-tidy
    linux-libc-dev liburing-dev libfmt-dev rapidjson-dev libgtest-dev libgmock-dev
    libseccomp-dev libhttp-parser-dev
    # Guest images and the sandbox.
    qemu-system-x86 busybox-static cpio e2fsprogs iproute2 curl kmod
    # Guest kernel build from Debian's source package.
    linux-source-6.1 bc bison flex libelf-dev libssl-dev xz-utils dwarves python3
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
    sudo_cmd=()
    [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-deps: ${#missing[@]} package(s) installed, ${#packages[@]} checked"
