#!/usr/bin/env bash
# Instruction counts (valgrind's cachegrind: exact and repeatable, unlike times on a shared
# machine) of one run and per node, for dagfut and the floors of the shapes they fit. Each
# case runs `examples/profile.rs` twice under cachegrind, with 0 and with R counted runs (both
# build the DAG and make one uncounted run first), so that
#
#   instructions per run  = (Ir(R runs) - Ir(0 runs)) / R
#   instructions per node = instructions per run / nodes
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
cargo build --release -p dagfut-benches --example profile
profile="$target/release/examples/profile"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# The instructions executed by one `profile` process (cachegrind's `summary:` line: Ir).
instructions() {
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$tmp/out" \
    "$profile" "$@" >/dev/null 2>"$tmp/log" || { cat "$tmp/log" >&2; return 1; }
  awk '/^summary:/ { print $2 }' "$tmp/out"
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
  "pend dagfut chain 1000"
  "pend await_loop chain 1000"
  "pend futures_buffered_flat chain 1000"
)
version="$(valgrind --version)"
{
  echo "{"
  echo "  \"valgrind\": \"$version\","
  echo "  \"command\": \"bash benches/cachegrind.sh (valgrind --tool=cachegrind --cache-sim=no $profile <shape> <nodes> <workload> <runs> <contender>, at 0 and R runs)\","
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
  printf '%-6s %-22s %-8s %7s nodes: %10s instructions per run, %8s per node\n' \
    "$workload" "$contender" "$shape" "$nodes" "$per_run" "$per_node"
  ((first)) || echo "," >> "$tmp/json"
  first=0
  printf '    {"workload": "%s", "contender": "%s", "shape": "%s", "nodes": %s, "runs": %s, "ir_base": %s, "ir_runs": %s, "per_run": %s, "per_node": %s}' \
    "$workload" "$contender" "$shape" "$nodes" "$runs" "$base" "$counted" "$per_run" "$per_node" >> "$tmp/json"
done
printf '\n  ]\n}\n' >> "$tmp/json"
mv "$tmp/json" "$out/cachegrind.json"
echo "wrote $out/cachegrind.json"
