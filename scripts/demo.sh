#!/usr/bin/env bash
# The demo command: installs what is missing (PostgreSQL binaries, libclang, a C compiler),
# builds tandem and runs `tandem demo`: a migration on a throwaway PostgreSQL while an old and
# a new application version keep writing. Extra arguments go to `tandem demo`
# (e.g. --rows 1000000).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dry_run=0
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
install_missing
if [[ -z ${TANDEM_PG_BIN:-} ]]; then
    TANDEM_PG_BIN=$(debian_pg_bin)
    export TANDEM_PG_BIN
fi
say "building tandem (release) and running the demo on $("$TANDEM_PG_BIN/postgres" --version)"
exec cargo run --quiet --release --locked -p tandem-cli -- demo "$@"
