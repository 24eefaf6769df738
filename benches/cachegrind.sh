#!/usr/bin/env bash
# Instruction counts (valgrind's cachegrind: exact and repeatable, unlike times on a shared
# machine) of one run and per node, for dagfut and the floors of the shapes they fit. Each
# case runs `examples/profile.rs` twice under cachegrind, with 0 and with R counted runs (both
# build the DAG and make one uncounted run first), so that
#
#   instructions per run  = (Ir(R runs) - Ir(0 runs)) / R
#   instructions per node = instructions per run / nodes
#
# On the shapes of at most 1,000 nodes it also counts the locked read-modify-write
# instructions of one run (callgrind and `benches/locked.py`): the atomic operations that a
# wake costs, which the instruction count weighs like any other.
#
# Writes $CARGO_TARGET_DIR/dagfut-benches/cachegrind.json for benches/report.py. Called by
# benches/run.sh when valgrind is installed; runs alone too (about a minute):
#
#   bash benches/cachegrind.sh
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
out="$target/dagfut-benches"
mkdir -p "$out"
command -v valgrind >/dev/null || { echo "cachegrind.sh: valgrind is not installed" >&2; exit 1; }
cargo build --release -p dagfut-benches --example profile --example profile_arc
profile="$target/release/examples/profile"
# The workload `pend_arc` (a counting `Arc` task waker) has a binary of its own, so that the
# other counts are those of a binary that polls under the no-op waker only.
profile_arc="$target/release/examples/profile_arc"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# The instructions executed by one `profile` (or `profile_arc`) process (cachegrind's
# `summary:` line: Ir). Arguments: shape nodes workload runs contender.
instructions() {
  local binary="$profile"
  [ "$3" = pend_arc ] && binary="$profile_arc"
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$tmp/out" \
    "$binary" "$@" >/dev/null 2>"$tmp/log" || { cat "$tmp/log" >&2; return 1; }
  awk '/^summary:/ { print $2 }' "$tmp/out"
}

# The locked read-modify-writes one run executes (`benches/locked.py`, from two callgrind
# profiles, at 0 and at R runs). Arguments: shape nodes workload runs contender.
locked() {
  local binary="$profile"
  [ "$3" = pend_arc ] && binary="$profile_arc"
  for r in 0 "$4"; do
    valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file="$tmp/locked.$r" \
      "$binary" "$1" "$2" "$3" "$r" "$5" >/dev/null 2>"$tmp/log" || { cat "$tmp/log" >&2; return 1; }
  done
  python3 benches/locked.py "$binary" "$tmp/locked.0" "$tmp/locked.$4" "$4"
}

# workload contender shape nodes (the shape's size argument; `seed` ignores it)
cases=(
  "ready dagfut chain 1"
  "ready dagfut seed 6"
  "ready nested_join seed 6"
  "ready dag_macro seed 6"
  "ready join_all_per_layer seed 6"
  "ready dagfut chain 1000"
  "ready await_loop chain 1000"
  "ready join_all_per_layer chain 1000"
  "ready dagfut wide 10000"
  "ready dagfut fan_out 10000"
  "ready dagfut layered 100000"
  "ready join_all_per_layer layered 100000"
  "pend dagfut seed 6"
  "pend nested_join seed 6"
  "pend join_all_per_layer seed 6"
  "pend dagfut chain 1000"
  "pend await_loop chain 1000"
  "pend join_all_per_layer chain 1000"
  "pend futures_buffered_flat chain 1000"
  "pend_arc dagfut seed 6"
  "pend_arc nested_join seed 6"
  "pend_arc dag_macro seed 6"
  "pend_arc join_all_per_layer seed 6"
  "pend_arc dagfut chain 1000"
  "pend_arc join_all_per_layer chain 1000"
)
version="$(valgrind --version)"
{
  echo "{"
  echo "  \"valgrind\": \"$version\","
  echo "  \"command\": \"bash benches/cachegrind.sh (valgrind --tool=cachegrind --cache-sim=no $profile <shape> <nodes> <workload> <runs> <contender>, at 0 and R runs; profile_arc for pend_arc)\","
  echo "  \"rows\": ["
} > "$tmp/json"
first=1
for case in "${cases[@]}"; do
  read -r workload contender shape size <<<"$case"
  # Nodes of the shape as built (`wide`/`fan_out` add one node to their width).
  case "$shape" in
    wide|fan_out) nodes=$((size + 1)) ;;
    *) nodes=$size ;;
  esac
  # About 200,000 node runs per case, at least 5 runs.
  runs=$((200000 / nodes)); ((runs >= 5)) || runs=5
  base="$(instructions "$shape" "$size" "$workload" 0 "$contender")"
  counted="$(instructions "$shape" "$size" "$workload" "$runs" "$contender")"
  read -r per_run per_node < <(awk -v a="$base" -v b="$counted" -v r="$runs" -v n="$nodes" \
    'BEGIN { d = (b - a) / r; printf "%.1f %.2f\n", d, d / n }')
  # Locked operations on the small shapes only (callgrind is slower; the count is exact, so
  # about 2,000 node runs do).
  locked_per_run=null
  if ((nodes <= 1000)); then
    locked_runs=$((2000 / nodes)); ((locked_runs >= 2)) || locked_runs=2
    locked_per_run="$(locked "$shape" "$size" "$workload" "$locked_runs" "$contender")"
  fi
  printf '%-8s %-22s %-8s %7s nodes: %10s instructions per run, %8s per node, %s locked\n' \
    "$workload" "$contender" "$shape" "$nodes" "$per_run" "$per_node" "$locked_per_run"
  ((first)) || echo "," >> "$tmp/json"
  first=0
  printf '    {"workload": "%s", "contender": "%s", "shape": "%s", "nodes": %s, "runs": %s, "ir_base": %s, "ir_runs": %s, "per_run": %s, "per_node": %s, "locked_per_run": %s}' \
    "$workload" "$contender" "$shape" "$nodes" "$runs" "$base" "$counted" "$per_run" "$per_node" "$locked_per_run" >> "$tmp/json"
done
printf '\n  ]\n}\n' >> "$tmp/json"
mv "$tmp/json" "$out/cachegrind.json"
echo "wrote $out/cachegrind.json"
