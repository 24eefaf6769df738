#!/usr/bin/env bash
# The full benchmark run behind RESULTS.md: criterion (short times, for a small machine), the
# allocation/poll/memory metrics, the makespan with real timers, the instruction counts under
# cachegrind (when valgrind is installed; benches/cachegrind.sh), then the report.
#
#   bash benches/run.sh            # everything, scaling up to 1M nodes (about 10 minutes)
#   bash benches/run.sh scaling    # arguments go to criterion (here: a filter)
#   DAGFUT_BENCH_PYTHON=1 bash benches/run.sh   # also the Python async-dag 0.3.1 comparison
set -euo pipefail
cd "$(dirname "$0")/.."
out="${CARGO_TARGET_DIR:-target}/dagfut-benches"
mkdir -p "$out"
criterion_args=(--warm-up-time 1 --measurement-time 2 "$@")
cat > "$out/command.txt" <<CMD
cargo bench -p dagfut-benches -- ${criterion_args[*]}
cargo bench -p dagfut-benches --features tracing --bench tracing -- ${criterion_args[*]}
cargo run --release -p dagfut-benches --example allocations
cargo run --release -p dagfut-benches --example makespan
cargo run --release -p dagfut-benches --example sizes
CMD
cut -d' ' -f1-3 /proc/loadavg > "$out/load.txt"
cargo bench -p dagfut-benches -- "${criterion_args[@]}"
# The `tracing` feature's cost: the same bench again with spans compiled in (tracing-on).
cargo bench -p dagfut-benches --features tracing --bench tracing -- "${criterion_args[@]}"
cargo run --release -p dagfut-benches --example allocations
cargo run --release -p dagfut-benches --example makespan
# The size of a seed run's future: dag!, nested join!, Dag::run.
cargo run --release -p dagfut-benches --example sizes > "$out/sizes.json"
# Instruction counts (exact, not timed): only with valgrind, which the rest does not need.
if command -v valgrind >/dev/null; then
  echo "bash benches/cachegrind.sh" >> "$out/command.txt"
  bash benches/cachegrind.sh
else
  echo "run.sh: valgrind is not installed, skipping the instruction counts" \
    "(apt-get install -y valgrind, then bash benches/cachegrind.sh)" >&2
  rm -f "$out/cachegrind.json" # stale counts from an earlier run must not be reported
fi
if [ "${DAGFUT_BENCH_PYTHON:-0}" = 1 ]; then
  echo "DAGFUT_BENCH_PYTHON=1 bash benches/python/run.sh" >> "$out/command.txt"
  bash benches/python/run.sh
else
  rm -f "$out/python.json" # a stale comparison from an earlier run must not be reported
fi
cut -d' ' -f1-3 /proc/loadavg >> "$out/load.txt"
echo "python3 benches/report.py" >> "$out/command.txt"
python3 benches/report.py
