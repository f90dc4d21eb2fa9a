#!/usr/bin/env bash
# The backfill benchmark of issue 3: an alter_column type change (text -> numeric) filled by
# tandem, by one whole-table UPDATE and by pgroll's method (PL/pgSQL trigger + no-op UPDATEs
# in keyset batches of 1,000), side by side on a throwaway cluster; then tandem alone at a
# small and a large table. Prints the figures and each target with PASS/FAIL.
#
#   scripts/bench-backfill.sh                  # 1M rows side by side, 250k and 4M for scaling
#   scripts/bench-backfill.sh --quick          # smoke run: 100k, then 50k and 400k
#   scripts/bench-backfill.sh --repeat 3       # median of three runs per figure
#   scripts/bench-backfill.sh --rows N --scaling A,B
#
# Installs PostgreSQL, libclang-dev and a C compiler first when absent (scripts/lib.sh).
# TANDEM_PG_BIN picks another PostgreSQL installation.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=scripts/lib.sh
source scripts/lib.sh
install_missing

# Release: the client's share of the work (one round trip per batch) must not be inflated by
# a debug build of the engine.
exec cargo run --release -p tandem-bench -- "$@"
