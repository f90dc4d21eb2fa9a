#!/usr/bin/env bash
# The blue-green benchmark of issue 15, on two throwaway clusters with wal_level=logical:
#   - the initial copy of 1M rows by `tandem bluegreen create` next to `pg_dump -t | psql` of
#     the same table, in the same run;
#   - the write-unavailable window of `switchover` while 8 clients write (target < 1 s).
#
#   scripts/bench-bluegreen.sh                     # 1M rows, 8 writers
#   scripts/bench-bluegreen.sh --rows 100000 --writers 8
#
# Needs pg_dump and psql next to the server binaries (Debian: postgresql-client-15, which the
# postgresql package pulls in). TANDEM_PG_BIN picks another installation.
# The code is crates/tandem-bluegreen/examples/bench.rs.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=scripts/lib.sh
source scripts/lib.sh
install_missing

exec cargo run --release -p tandem-bluegreen --example bench-bluegreen -- "$@"
