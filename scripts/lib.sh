#!/usr/bin/env bash
# Shared by scripts/test.sh and scripts/demo.sh: finding and installing what tandem needs
# (PostgreSQL binaries, libclang for pg_query, a C compiler) on Debian, as root or with sudo.
# Callers set `dry_run` (0 or 1) before sourcing.

dry_run=${dry_run:-0}

say() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'test.sh: error: %s\n' "$*" >&2; exit 1; }

# Runs a command as root: directly when root, with sudo otherwise (non-
# interactive without a terminal, so CI fails fast instead of hanging).
as_root() {
    if [[ $dry_run -eq 1 ]]; then
        printf '[dry-run] would run as root: %s\n' "$*" >&2
    elif [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null; then
        if [[ -t 0 ]]; then sudo "$@"; else sudo -n "$@"; fi
    else
        die "not root and sudo is missing: run as root: $*"
    fi
}

apt_updated=0
# apt_install PACKAGE... — installs Debian packages, or explains what to do.
apt_install() {
    say "installing missing packages: $*"
    if ! command -v apt-get >/dev/null; then
        die "apt-get not found: install $* with your package manager, then re-run"
    fi
    if [[ $EUID -ne 0 ]] && ! command -v sudo >/dev/null && [[ $dry_run -eq 0 ]]; then
        die "not root and sudo is missing: as root, run: apt-get update && apt-get install -y $*"
    fi
    if [[ $apt_updated -eq 0 ]]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update ||
            die "apt-get update failed; install $* yourself, then re-run"
        apt_updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" ||
        die "apt-get install $* failed; install it yourself, then re-run"
}

# The highest /usr/lib/postgresql/<major>/bin that has initdb, or nothing.
debian_pg_bin() {
    local initdb
    initdb=$(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n 1 || true)
    [[ -n $initdb ]] && dirname "$initdb"
    return 0
}

# libclang-dev (not just the libclang1 runtime): bindgen also needs clang's
# builtin headers, which come with it.
have_libclang() {
    [[ -n ${LIBCLANG_PATH:-} ]] ||
        compgen -G '/usr/lib/llvm-*/lib/libclang*.so*' >/dev/null
}


# install_missing [npm] — installs PostgreSQL, libclang-dev and a C compiler when absent
# (and npm when asked), so a fresh Debian machine with Rust needs nothing else.
install_missing() {
    local want_npm=${1:-}
    command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs), then re-run"
    local missing=()
    if [[ -z ${TANDEM_PG_BIN:-} && -z $(debian_pg_bin) ]]; then
        missing+=(postgresql)
    fi
    have_libclang || missing+=(libclang-dev)
    command -v cc >/dev/null || missing+=(build-essential)
    if [[ $want_npm == npm ]] && ! command -v npm >/dev/null; then
        missing+=(npm)
    fi
    if [[ ${#missing[@]} -gt 0 ]]; then
        apt_install "${missing[@]}"
    fi
}
