# shellcheck shell=bash
# Shared helpers for the guest image scripts. Sourced, never run.
# Interface (environment):
#   EMBER_CACHE_DIR       where built/fetched artefacts live (default: $HOME/.cache/ember)
#   EMBER_KERNEL_SOURCE   kernel source tarball (default: /usr/src/linux-source-6.1.tar.xz)

EMBER_GUEST_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

ember_die() {
    echo "$(basename "$0"): error: $*" >&2
    exit 1
}

ember_note() {
    echo "$(basename "$0"): $*" >&2
}

ember_cache_dir() {
    local dir="${EMBER_CACHE_DIR:-${HOME:-/tmp}/.cache/ember}"
    mkdir -p "$dir"
    (cd "$dir" && pwd)
}

ember_kernel_source() {
    echo "${EMBER_KERNEL_SOURCE:-/usr/src/linux-source-6.1.tar.xz}"
}

# A string that changes whenever the kernel source changes. The Debian package version is
# cheap; a tarball that does not come from the package is hashed instead.
ember_kernel_source_version() {
    local tarball
    tarball="$(ember_kernel_source)"
    [[ -r "$tarball" ]] || ember_die "kernel source $tarball not found (apt-get install linux-source-6.1, or set EMBER_KERNEL_SOURCE)"
    local version=""
    if [[ "$tarball" == /usr/src/linux-source-6.1.tar.xz ]]; then
        version="$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || true)"
    fi
    if [[ -n "$version" ]]; then
        echo "debian linux-source-6.1 $version"
    else
        echo "tarball sha256 $(sha256sum "$tarball" | cut -d' ' -f1)"
    fi
}

# key = sha256(fragment + kernel version string + build script), first 16 hex digits.
ember_kernel_key() {
    {
        cat "$EMBER_GUEST_DIR/kernel.fragment"
        echo "--- source: $(ember_kernel_source_version)"
        cat "$EMBER_GUEST_DIR/build-kernel.sh"
    } | sha256sum | cut -c1-16
}

ember_kernel_dir() {
    echo "$(ember_cache_dir)/kernel-$(ember_kernel_key)"
}

# Parses the options shared by build-rootfs.sh and build-initrd.sh into
# EMBER_SIZE, EMBER_TEST_CMD, EMBER_ADDS (array of SRC:DEST) and EMBER_OUT.
# shellcheck disable=SC2034  # the variables are read by the sourcing script
ember_parse_image_args() {
    EMBER_SIZE=""
    EMBER_TEST_CMD=""
    EMBER_ADDS=()
    EMBER_OUT=""
    while (($#)); do
        case "$1" in
            --size) (($# >= 2)) || ember_die "--size needs a value"; EMBER_SIZE="$2"; shift 2 ;;
            --size=*) EMBER_SIZE="${1#--size=}"; shift ;;
            --test-cmd) (($# >= 2)) || ember_die "--test-cmd needs a value"; EMBER_TEST_CMD="$2"; shift 2 ;;
            --test-cmd=*) EMBER_TEST_CMD="${1#--test-cmd=}"; shift ;;
            --add) (($# >= 2)) || ember_die "--add needs SRC:DEST"; EMBER_ADDS+=("$2"); shift 2 ;;
            --add=*) EMBER_ADDS+=("${1#--add=}"); shift ;;
            -h|--help) usage; exit 0 ;;
            -*) ember_die "unknown option $1 (see --help)" ;;
            *) [[ -z "$EMBER_OUT" ]] || ember_die "more than one output path ($EMBER_OUT, $1)"; EMBER_OUT="$1"; shift ;;
        esac
    done
    [[ -n "$EMBER_OUT" ]] || ember_die "missing output path (see --help)"
}

# Fills DIR with the guest's userspace: busybox-static and its applet links, the init
# script (at /sbin/init and /init), the boot-timer helper, the test command and --add files.
ember_populate_guest_tree() {
    local root="$1"
    local busybox
    busybox="$(command -v busybox || true)"
    [[ -x /bin/busybox ]] && busybox=/bin/busybox
    [[ -n "$busybox" ]] || ember_die "busybox not found (apt-get install busybox-static)"
    if file -L "$busybox" | grep -q 'dynamically linked'; then
        ember_die "$busybox is dynamically linked; install busybox-static"
    fi

    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,mnt,var/log}
    chmod 1777 "$root/tmp"
    install -m 0755 "$busybox" "$root/bin/busybox"
    # One perl process instead of ~400 ln forks (perl-base is Essential on Debian).
    "$busybox" --list-full | perl -e '
        use File::Path qw(make_path);
        my $root = shift;
        while (my $applet = <STDIN>) {
            chomp $applet;
            $applet =~ s{^/+}{};
            next if $applet eq "" || $applet =~ m{^(bin/busybox|sbin/init|linuxrc|init)$};
            my $path = "$root/$applet";
            next if -e $path || -l $path;
            (my $dir = $path) =~ s{/[^/]+$}{};
            make_path($dir);
            symlink("/bin/busybox", $path) or die "symlink $path: $!\n";
        }' "$root" || ember_die "creating busybox applet links failed"

    local helper
    helper="$(ember_boot_timer_helper)"
    rm -f "$root/sbin/init" "$root/init" "$root/sbin/boot-timer-signal"
    install -m 0755 "$EMBER_GUEST_DIR/init.sh" "$root/sbin/init"
    ln -s /sbin/init "$root/init"
    install -m 0755 "$helper" "$root/sbin/boot-timer-signal"

    printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
    printf 'root:x:0:\n' >"$root/etc/group"
    printf 'ember-guest\n' >"$root/etc/hostname"
    if [[ -n "$EMBER_TEST_CMD" ]]; then
        printf '%s\n' "$EMBER_TEST_CMD" >"$root/etc/ember-test"
    fi

    local spec src dest
    for spec in "${EMBER_ADDS[@]}"; do
        [[ "$spec" == *:* ]] || ember_die "--add $spec: expected SRC:DEST"
        src="${spec%%:*}"
        dest="${spec#*:}"
        [[ -e "$src" ]] || ember_die "--add $spec: $src does not exist"
        [[ "$dest" == /* ]] || ember_die "--add $spec: DEST must be an absolute path in the guest"
        mkdir -p "$root$(dirname "$dest")"
        cp -aH "$src" "$root$dest"
    done
}

# Compiles boot-timer-signal.c (static) into the cache once per source version; prints the path.
ember_boot_timer_helper() {
    local src="$EMBER_GUEST_DIR/boot-timer-signal.c"
    local key out
    key="$( { cat "$src"; gcc --version | head -1; } | sha256sum | cut -c1-16)"
    out="$(ember_cache_dir)/boot-timer-signal-$key"
    if [[ ! -x "$out" ]]; then
        local tmp
        tmp="$(mktemp "$out.XXXXXX")"
        gcc -static -Os -Wall -Wextra -Werror -o "$tmp" "$src" || { rm -f "$tmp"; ember_die "compiling $src failed"; }
        strip "$tmp"
        chmod 0755 "$tmp"
        mv -f "$tmp" "$out"
    fi
    echo "$out"
}
