#!/usr/bin/env python3
"""The optional Python comparison of issue 5: async-dag 0.3.1 (PyPI) on the shapes of the Rust
benches, to show the distance between dagfut and the library that seeded it.

    bash benches/python/run.sh       # creates the venv (setup.sh), then runs this file

Two measurements, both with asyncio:

* makespan: the seed graph of async-dag's README with real timers (``asyncio.sleep``), the
  wall time of one run (best schedule 1.2 s), as ``examples/makespan.rs`` does in Rust;
* ready nodes: every node is an ``async def`` without an ``await`` that returns the wrapping
  (mod 2**64) sum of its inputs plus one, roots taking the parameter 1, on the shapes of
  ``benches/src/shape.rs`` (the same generator and seed for the random layered DAG). Each
  shape's graph is built and sorted once, outside the timed part, and invoked N times; the
  median of the N runs is reported.

Writes ``${CARGO_TARGET_DIR:-<repo>/target}/dagfut-benches/python.json`` and prints a table.

async-dag's API, as read from the 0.3.1 source: ``build_dag(int)`` yields a ``TaskManager``
and calls ``sort()`` when the ``with`` block ends; ``tm.add_node(fn, *deps)`` adds a node
whose arguments are the results of ``deps`` (``TaskNode``\\ s, or plain values, which become
"immediate" nodes); ``tm.parameter_node`` stands for the value given to ``tm.invoke(value)``;
``await tm.invoke(value)`` runs every node as an ``asyncio`` task of one ``TaskGroup`` and
returns an ``ExecutionResult``; ``node.extract_result(result)`` reads a node's value. A sorted
graph can be invoked any number of times (each invoke has its own results).
"""

from __future__ import annotations

import asyncio
import gc
import importlib.metadata
import json
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from async_dag import TaskManager, TaskNode, build_dag

# u64 arithmetic: every value is reduced modulo 2**64, as Rust's `wrapping_add` does.
U64 = (1 << 64) - 1

# `GRAPH_SEED` of benches/src/lib.rs: the seed of every random layered DAG.
GRAPH_SEED = 0x5EED_DA6F

# `Shape::layered(10_000, GRAPH_SEED).expected_last(1)` as computed by the Rust code itself
# (benches/src/shape.rs compiled on its own with rustc): checks that the port of the
# generator below builds the very same graph, not only a self-consistent one.
LAYERED_10K_LAST_FROM_RUST = 13_610_535_417_393_207_403

# Total time aimed at per shape (the brief: about 1–3 s), and the least number of runs.
TARGET_SECONDS = 2.0
MIN_RUNS = 3


# --- Shapes: a port of benches/src/shape.rs ------------------------------------------------


class XorShift:
    """Port of `XorShift`: xorshift64 with shifts 13, 7, 17 on a u64 state."""

    def __init__(self, seed: int) -> None:
        self.state = max(seed & U64, 1)

    def next_u64(self) -> int:
        s = self.state
        s ^= (s << 13) & U64
        s ^= s >> 7
        s ^= (s << 17) & U64
        self.state = s
        return s

    def below(self, bound: int) -> int:
        """A value in ``0..bound`` (``bound > 0``)."""
        return self.next_u64() % bound


@dataclass
class Shape:
    """A DAG as plain data: node ``i``'s inputs are ``inputs[i]``, indices of earlier nodes;
    a node without inputs takes the run's parameter."""

    name: str
    inputs: list[list[int]]

    def __len__(self) -> int:
        return len(self.inputs)

    def max_fan_in(self) -> int:
        return max((len(i) for i in self.inputs), default=0)

    def expected_last(self, param: int) -> int:
        """Port of `Shape::expected_last`: each node outputs the wrapping sum of its inputs
        plus one, a root its parameter plus one; the last node's value."""
        values: list[int] = []
        for inputs in self.inputs:
            total = param if not inputs else sum(values[i] for i in inputs)
            values.append((total + 1) & U64)
        return values[-1] if values else 0


def seed() -> Shape:
    """fast_a → slow_b; slow_a, fast_b → fast_c; end takes fast_c and slow_b."""
    return Shape("seed", [[], [0], [], [], [2, 3], [4, 1]])


def chain(length: int) -> Shape:
    return Shape("chain", [[] if i == 0 else [i - 1] for i in range(length)])


def wide(width: int) -> Shape:
    """``width`` independent nodes and one node taking all of them."""
    return Shape("wide", [[] for _ in range(width)] + [list(range(width))])


def fan_out(width: int) -> Shape:
    """One node and ``width`` nodes each taking it."""
    return Shape("fan_out", [[]] + [[0] for _ in range(width)])


def layered(nodes: int, graph_seed: int) -> Shape:
    """Port of `Shape::layered`: layers of ``ceil(sqrt(nodes))`` nodes, each node after the
    first layer taking 1 to 4 distinct nodes of the layer before, in the generator's order."""
    random = XorShift(graph_seed)
    width = int(max(math.ceil(math.sqrt(nodes)), 1.0))
    inputs: list[list[int]] = []
    previous = range(0, 0)
    while len(inputs) < nodes:
        start = len(inputs)
        count = min(width, nodes - len(inputs))
        for _ in range(count):
            if not previous:
                inputs.append([])
                continue
            fan_in = min(1 + random.below(4), len(previous))
            chosen: list[int] = []
            while len(chosen) < fan_in:
                pick = previous.start + random.below(len(previous))
                if pick not in chosen:
                    chosen.append(pick)
            inputs.append(chosen)
        previous = range(start, len(inputs))
    return Shape("layered", inputs)


# --- The nodes and the graphs ----------------------------------------------------------------


async def node(*inputs: int) -> int:
    """Every node of the ready workload: ready at once (no ``await``), the wrapping sum of its
    inputs plus one. A root's one input is the parameter."""
    return (sum(inputs) + 1) & U64


def build(shape: Shape) -> tuple[TaskManager[int], TaskNode[int, int]]:
    """The shape as an async-dag graph, sorted and ready to invoke; returns the manager and
    the last node. Raises whatever async-dag raises for a shape it cannot express."""
    with build_dag(int) as tm:
        nodes: list[TaskNode[int, int]] = []
        for inputs in shape.inputs:
            deps = [nodes[i] for i in inputs] if inputs else [tm.parameter_node]
            nodes.append(tm.add_node(node, *deps))
    return tm, nodes[-1]


# --- Makespan: the seed graph with real timers ----------------------------------------------

FAST, SLOW_A, SLOW_B = 0.1, 0.5, 1.0


async def inc(delay: float, n: int) -> int:
    await asyncio.sleep(delay)
    return n + 1


async def add(delay: float, a: int, b: int) -> int:
    await asyncio.sleep(delay)
    return a + b


async def makespan() -> float:
    """Builds and runs the README's graph once (invoke parameter 0); the wall time of both,
    like `examples/makespan.rs`. The delays are plain values, which async-dag turns into
    immediate nodes, as in its README."""
    started = time.perf_counter()
    with build_dag(int) as tm:
        fast_a = tm.add_node(inc, FAST, tm.parameter_node)
        slow_b = tm.add_node(inc, SLOW_B, fast_a)
        slow_a = tm.add_node(inc, SLOW_A, tm.parameter_node)
        fast_b = tm.add_node(inc, FAST, tm.parameter_node)
        fast_c = tm.add_node(add, FAST, slow_a, fast_b)
        end = tm.add_node(add, FAST, fast_c, slow_b)
    result = await tm.invoke(0)
    seconds = time.perf_counter() - started
    # fast_a = 1, slow_b = 2, slow_a = fast_b = 1, fast_c = 2, end = 4.
    assert end.extract_result(result) == 4, end.extract_result(result)
    return seconds


# --- Timing -----------------------------------------------------------------------------------


async def time_shape(shape: Shape) -> dict[str, object]:
    """Builds ``shape`` once, then times invokes of the same graph: one untimed warm-up run
    that also sizes N (about ``TARGET_SECONDS`` in all, at least ``MIN_RUNS``), then N runs
    timed one by one. Every run's output is checked."""
    expected = shape.expected_last(1)
    tm, last = build(shape)

    async def run_once() -> float:
        started = time.perf_counter()
        result = await tm.invoke(1)
        seconds = time.perf_counter() - started
        value = last.extract_result(result)
        assert value == expected, f"{shape.name}: {value} != {expected}"
        return seconds

    warm_up = await run_once()
    runs = max(MIN_RUNS, round(TARGET_SECONDS / max(warm_up, 1e-9)))
    gc.collect()
    times = [await run_once() for _ in range(runs)]
    median = statistics.median(times)
    return {
        "shape": shape.name,
        "nodes": len(shape),
        "median_seconds": median,
        "ns_per_node": median / len(shape) * 1e9,
        "runs": runs,
    }


def output_path() -> Path:
    """``$CARGO_TARGET_DIR`` (or the repository's ``target/``) / dagfut-benches / python.json,
    the directory the Rust examples write to."""
    repo = Path(__file__).resolve().parents[2]
    target = Path(os.environ.get("CARGO_TARGET_DIR") or repo / "target")
    return target / "dagfut-benches" / "python.json"


async def main() -> None:
    shapes = [seed(), chain(1_000), wide(1_000), fan_out(1_000), layered(10_000, GRAPH_SEED)]
    layered_10k = shapes[-1]
    assert len(layered_10k) == 10_000 and layered_10k.max_fan_in() <= 4
    assert layered_10k.expected_last(1) == LAYERED_10K_LAST_FROM_RUST, "layered port differs"

    print(f"async-dag {importlib.metadata.version('async-dag')}, Python {sys.version.split()[0]}")
    makespan_seconds = await makespan()
    print(f"makespan (seed graph, real timers): {makespan_seconds:.3f} s (best schedule 1.2 s)")

    rows: list[dict[str, object]] = []
    skipped: list[dict[str, str]] = []
    for shape in shapes:
        try:
            rows.append(await time_shape(shape))
        except (TypeError, ValueError, RecursionError) as error:
            # A shape async-dag cannot express (none of these, in 0.3.1: `add_node` takes
            # any number of dependencies at run time; its typed overloads stop at 20).
            skipped.append({"shape": shape.name, "why": f"{type(error).__name__}: {error}"})

    report = {
        "python": sys.version,
        "async_dag": importlib.metadata.version("async-dag"),
        "makespan_seconds": makespan_seconds,
        "rebuilt_per_run": False,
        "shapes": rows,
        "skipped": skipped,
    }
    path = output_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")

    print("ready nodes, graph built once, median of N invokes:")
    print(f"{'shape':<9} {'nodes':>7} {'runs':>6} {'median/run':>12} {'ns/node':>10}")
    for row in rows:
        print(
            f"{row['shape']:<9} {row['nodes']:>7,} {row['runs']:>6} "
            f"{row['median_seconds'] * 1e3:>9.3f} ms {row['ns_per_node']:>10,.0f}"
        )
    for skip in skipped:
        print(f"{skip['shape']:<9} skipped: {skip['why']}")
    print(f"wrote {path}")


if __name__ == "__main__":
    asyncio.run(main())
