#!/usr/bin/env bash
# Lint time of `tandem lint` next to squawk's, on the same generated corpus, in one run.
#
#   scripts/bench-lint.sh [STATEMENTS]      (default 10000)
#
# Builds tandem in release (target dir: $CARGO_TARGET_DIR, default the repository's target/),
# generates a corpus of realistic migration files, installs squawk-cli with pip if missing,
# and times both with hyperfine when present, else with a plain loop (best of 5).
set -euo pipefail

STATEMENTS="${1:-10000}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
CORPUS="$(mktemp -d)/corpus"
RUNS=5

echo "== building tandem (release)"
(cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build -q --release -p tandem-cli && CARGO_TARGET_DIR="$TARGET" cargo build -q --release -p tandem-lint --example gen-corpus)
TANDEM="$TARGET/release/tandem"
"$TARGET/release/examples/gen-corpus" "$CORPUS" "$STATEMENTS"

if ! command -v squawk >/dev/null 2>&1; then
  echo "== installing squawk-cli"
  pip install --quiet squawk-cli
fi
echo "squawk: $(squawk --version)"

FILES=("$CORPUS"/*.sql)
# Both tools exit 1 on findings; only the time matters here.
tandem_cmd="$TANDEM lint --format json $CORPUS > /dev/null || true"
squawk_cmd="squawk --reporter gcc ${FILES[*]} > /dev/null 2>&1 || true"

if command -v hyperfine >/dev/null 2>&1; then
  hyperfine --warmup 1 --runs "$RUNS" -N -n tandem "bash -c '$tandem_cmd'" -n squawk "bash -c '$squawk_cmd'"
  exit 0
fi

best_ms() {
  local best=""
  for _ in $(seq "$RUNS"); do
    local start end ms
    start=$(date +%s%N)
    bash -c "$1"
    end=$(date +%s%N)
    ms=$(( (end - start) / 1000000 ))
    if [[ -z "$best" || "$ms" -lt "$best" ]]; then best=$ms; fi
  done
  echo "$best"
}

bash -c "$tandem_cmd"; bash -c "$squawk_cmd"   # warm the page cache
t=$(best_ms "$tandem_cmd")
s=$(best_ms "$squawk_cmd")
printf '\n%-8s %10s   (%s statements, %s files, best of %s)\n' tool "time (ms)" "$STATEMENTS" "${#FILES[@]}" "$RUNS"
printf '%-8s %10s\n' tandem "$t" squawk "$s"
awk -v t="$t" -v s="$s" 'BEGIN { if (t > 0) printf "tandem is %.1fx %s than squawk\n", (s > t ? s / t : t / s), (s > t ? "faster" : "slower") }'
