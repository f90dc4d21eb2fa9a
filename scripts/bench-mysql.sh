#!/usr/bin/env bash
# The MySQL benchmark of issue 14: a type change that needs a copy (INT -> BIGINT) on a 1M-row
# table, by the server's own ALTER TABLE ... ALGORITHM=COPY (offline, the floor), by
# pt-online-schema-change and by tandem, without and with a concurrent write load, side by side
# on one throwaway MariaDB. Prints the figures and each target with PASS/FAIL.
#
#   scripts/bench-mysql.sh                      # 1M rows, 200 writes/s under load
#   scripts/bench-mysql.sh --rows 200000 --rate 500
#
# Installs mariadb-server-core, percona-toolkit and the build tools when absent (scripts/lib.sh).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=scripts/lib.sh
source scripts/lib.sh
install_missing

exec cargo run --release -p tandem-mysql --example bench -- "$@"
