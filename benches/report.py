#!/usr/bin/env python3
"""Writes benches/RESULTS.md and benches/scaling.svg from a benchmark run.

Reads criterion's output (`$CARGO_TARGET_DIR/criterion/**/new/{benchmark,estimates}.json`,
or the workspace's `target/`), and what the examples wrote to
`$CARGO_TARGET_DIR/dagfut-benches/` (metrics.json, makespan.json, command.txt). Every figure
in the report comes from those files. Python 3 standard library only.

    python3 benches/report.py
"""

import datetime
import glob
import json
import math
import os
import platform
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(HERE, "..", "target")
CRITERION = os.path.join(TARGET, "criterion")
OUT = os.path.join(TARGET, "dagfut-benches")

CONTENDERS = [
    ("dagfut", "dagfut"),
    ("nested_join", "hand-shaped nested `join`"),
    ("join_all_per_layer", "one `join_all` per layer"),
    ("futures_unordered", "`FuturesUnordered` + dependency counters"),
    ("futures_buffered_flat", "futures-buffered `join_all`, no edges"),
    ("poll_loop_floor", "one poll of N prebuilt boxed futures (floor)"),
    ("joinset_current_thread", "tokio `JoinSet`, task per node, current-thread"),
    ("joinset_multi_thread", "tokio `JoinSet`, task per node, 2 workers"),
    ("dagx", "dagx 0.3 (tokio current-thread spawner)"),
    ("async_dag", "async_dag 0.1.2"),
    ("dagfut_local_edges", "dagfut, same layers with local edges"),
]
LABEL = dict(CONTENDERS)
ORDER = {name: i for i, (name, _) in enumerate(CONTENDERS)}
COLORS = {
    "dagfut": "#d62728",
    "poll_loop_floor": "#7f7f7f",
    "futures_buffered_flat": "#2ca02c",
    "futures_unordered": "#1f77b4",
    "join_all_per_layer": "#ff7f0e",
    "joinset_current_thread": "#9467bd",
    "joinset_multi_thread": "#8c564b",
    "async_dag": "#e377c2",
    "dagx": "#17becf",
    "nested_join": "#bcbd22",
    "dagfut_local_edges": "#ff9896",
}
SHAPE_TEXT = {
    "seed": "the seed graph",
    "chain": "a chain",
    "wide": "wide: independent nodes + one node taking all of them (list input)",
    "fan_out": "fan-out: one node → N nodes",
    "layered": "random layered DAG, fan-in 1–4, fixed seed",
}


def load_criterion():
    """{(group, contender, n_or_None): (median_ns, elements)}"""
    results = {}
    for path in glob.glob(os.path.join(CRITERION, "**", "new", "benchmark.json"), recursive=True):
        with open(path) as f:
            bench = json.load(f)
        with open(os.path.join(os.path.dirname(path), "estimates.json")) as f:
            estimates = json.load(f)
        function = bench["function_id"] or ""
        value = bench.get("value_str")
        if value is None and "/" in function:
            function, value = function.split("/", 1)
        elements = (bench.get("throughput") or {}).get("Elements")
        median = estimates["median"]["point_estimate"]
        results[(bench["group_id"], function, int(value) if value else None)] = (median, elements)
    return results


def load_json(name):
    path = os.path.join(OUT, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def fmt_ratio(r):
    return f"{r:.2f}×" if r < 10 else f"{r:.0f}×"


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        rustc = "unknown"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "rustc": rustc,
    }


def group_tables(results):
    """{group: {contender: (median, elements)}} for the shape groups."""
    groups = {}
    for (group, contender, value), data in results.items():
        if group == "scaling":
            continue
        groups.setdefault(group, {})[contender] = data
    return groups


def parse_group(group):
    workload, rest = group.split("-", 1)
    shape, nodes = rest.rsplit("-", 1)
    return workload, shape, int(nodes)


def ratio(groups, group, a, b):
    """time(a) / time(b) in `group`, or None."""
    g = groups.get(group, {})
    if a in g and b in g:
        return g[a][0] / g[b][0]
    return None


def verdict(ok):
    return "**met**" if ok else "**not met**"


def locality_note(scaling):
    """What the local-edges series says about dagfut's cost on large random DAGs."""
    sizes = sorted(n for c, n in scaling if c == "dagfut_local_edges" and ("dagfut", n) in scaling)
    if not sizes:
        return ""
    n = sizes[-1]
    rnd, loc = scaling[("dagfut", n)] / n, scaling[("dagfut_local_edges", n)] / n
    share = max(0.0, (rnd - loc) / rnd)
    if share < 0.1:
        text = (f" On the same layers and fan-ins with local edges dagfut takes {loc:.1f} ns/node at"
                f" {n:,} nodes against {rnd:.1f} with random edges: scattered edges cost it nothing"
                " measurable there, each batch of ready nodes being polled in index order"
                " (`core/src/ready.rs`).")
    else:
        text = (f" On the same layers and fan-ins with local edges dagfut takes {loc:.1f} ns/node at"
                f" {n:,} nodes against {rnd:.1f} with random edges: {share:.0%} of its cost there is"
                " scattered memory access. dagfut already polls each batch of ready nodes in index"
                " order (`core/src/ready.rs`), so its own per-node arrays are walked forwards; what"
                " stays scattered is reading each node's inputs wherever its edges point, which"
                " every contender pays.")
    small = min(sizes)
    if small < n:
        loc_small = scaling[("dagfut_local_edges", small)] / small
        text += (f" Even with local edges the cost per node grows {loc / loc_small:.1f}× from"
                 f" {small:,} to {n:,} nodes, as the run's state and the built DAG outgrow the CPU"
                 " caches.")
    return text


def targets(groups, scaling, metrics):
    rows = []
    locality = locality_note(scaling)
    ready = sorted((g for g in groups if g.startswith("ready-")), key=group_key)
    pend = sorted((g for g in groups if g.startswith("pend-")), key=group_key)

    # 1. ready nodes: within 2x of the polling floor.
    run_allocations = "its allocations"
    if metrics:
        seed_rows = [r for r in metrics["rows"] if r["contender"] == "dagfut" and r["shape"] == "seed"]
        if seed_rows:
            run_allocations = f"{seed_rows[0]['allocations']} allocations"
    pairs = [(g, ratio(groups, g, "dagfut", "poll_loop_floor")) for g in ready]
    pairs = [(g, r) for g, r in pairs if r is not None]
    if pairs:
        worst = max(r for _, r in pairs)
        detail = ", ".join(f"{short(g)} {fmt_ratio(r)}" for g, r in pairs)
        ok = worst <= 2
        floor = [groups[g]["poll_loop_floor"][0] / groups[g]["poll_loop_floor"][1]
                 for g, _ in pairs if parse_group(g)[2] >= 1000]
        flat = [r for r in (ratio(groups, g, "futures_buffered_flat", "poll_loop_floor")
                            for g, _ in pairs if parse_group(g)[2] >= 1000) if r is not None]
        why = "" if ok else (
            " Missed where the ratio exceeds 2: the floor polls N boxed futures that are already"
            " built and counts nothing; dagfut also creates each node future in its arena, counts"
            " down each dependent edge, writes the output slot and drops the future. The seed"
            f" graph is dominated by the run's fixed cost ({run_allocations} per run: arena,"
            " waker block, ready queue, state words), which one allocation instead of several, or"
            " reusing a run's state across runs, would shrink."
            + (f" On the larger shapes the floor costs {min(floor):.1f}–{max(floor):.1f} ns per"
               " node, one poll of a tiny prebuilt future; even futures-buffered's flat join,"
               " which only creates and polls the same futures (no edges), is"
               f" {min(flat):.1f}–{max(flat):.1f}× the floor here." if floor and flat else "")
            + " What would get closer: fewer instructions per node (count them exactly with"
            " `examples/profile.rs` under cachegrind; they are spread over the type-erased call"
            " that starts and polls a node, the state word, the waker slot, the dependents'"
            " counters and the queue), and a smaller per-node footprint for the large shapes."
            + locality)
        rows.append(("Ready nodes: dagfut within 2× of the polling-loop floor",
                     f"dagfut ÷ floor: {detail}", verdict(ok) + why))

    # 2. pend-once: within 1.5x of futures-buffered's flat join.
    pairs = [(g, ratio(groups, g, "dagfut", "futures_buffered_flat")) for g in pend]
    pairs = [(g, r) for g, r in pairs if r is not None]
    if pairs:
        worst = max(r for _, r in pairs)
        detail = ", ".join(f"{short(g)} {fmt_ratio(r)}" for g, r in pairs)
        ok = worst <= 1.5
        why = "" if ok else (
            " Missed on the shapes above 1.5×: besides the flat join's work, dagfut starts each"
            " node only when its inputs are done (the flat join starts all at once, ignoring the"
            " edges), so it runs the ready queue and the dependents' counters; on a chain every"
            " node is a separate wake-and-poll round trip through the parent future, which the"
            " flat join never has. What would get closer: a cheaper round trip (each poll of the"
            " run registers the parent waker and drains the wake stack before polling one node).")
        rows.append(("Pend-once nodes: dagfut within 1.5× of futures-buffered's flat join",
                     f"dagfut ÷ flat join: {detail}", verdict(ok) + why))

    # 3. seed graph: within 2x of the nested join.
    r = ratio(groups, "ready-seed-6", "dagfut", "nested_join")
    if r is not None:
        ok = r <= 2
        why = "" if ok else (
            " Missed: a 6-node run is all fixed cost. The nested `join` is one stack-allocated"
            f" state machine; a dagfut run makes {run_allocations} (arena, waker block, ready"
            " queue, state words) and goes through type-erased start/poll functions per node. One"
            " allocation per run, or a small-graph inline arena, would close most of the gap.")
        rows.append(("Seed graph, CPU cost of one run: within 2× of the hand-shaped nested `join!`",
                     f"dagfut ÷ nested join: {fmt_ratio(r)}", verdict(ok) + why))

    # 4. spawn per node, dagx, async_dag.
    for name, factor in (("joinset_current_thread", 5), ("joinset_multi_thread", 5), ("dagx", 10)):
        pairs = [(g, ratio(groups, g, name, "dagfut")) for g in ready]
        pairs = [(g, r) for g, r in pairs if r is not None]
        if not pairs:
            continue
        least = min(r for _, r in pairs)
        detail = ", ".join(f"{short(g)} {fmt_ratio(r)}" for g, r in pairs)
        ok = least >= factor
        missed = [short(g) for g, r in pairs if r < factor]
        why = "" if ok else (
            f" Missed on {', '.join(missed)}."
            + (" The seed graph is 6 nodes: fixed costs, not per-node work." if any(
                m.startswith("seed") for m in missed) else "")
            + (locality if any(m.startswith("layered") for m in missed) else ""))
        rows.append((f"At least {factor}× faster than {LABEL[name]}",
                     f"{name} ÷ dagfut: {detail}", verdict(ok) + why))
    pairs = [(g, ratio(groups, g, "async_dag", "dagfut")) for g in ready + pend
             if parse_group(g)[2] in (10_000, 10_001)]
    pairs = [(g, r) for g, r in pairs if r is not None]
    if scaling.get(("async_dag", 10_000)) and scaling.get(("dagfut", 10_000)):
        pairs.append(("scaling-layered-10000",
                      scaling[("async_dag", 10_000)] / scaling[("dagfut", 10_000)]))
    if pairs:
        least = min(r for _, r in pairs)
        detail = ", ".join(f"{parse_group(g)[0]} {short(g)} {fmt_ratio(r)}" for g, r in pairs)
        why = ""
        if least < 10:
            why = (" async_dag is itself one future over a `FuturesUnordered` (no spawning), so"
                   " it pays per node for allocations and type-erased argument passing, not for"
                   " scheduling: a few times dagfut's cost, not tens. In the pend-once workload"
                   " both also pay the driver (waker clone, shuffle, wake), which narrows the"
                   " ratio further.")
            if metrics:
                ad = [r for r in metrics["rows"] if r["contender"] == "async_dag"
                      and r["workload"] == "ready" and r["nodes"] >= 10_000]
                if ad:
                    r = max(ad, key=lambda r: r["nodes"])
                    why += (f" Measured: {r['allocations'] / r['nodes']:.1f} allocations per node"
                            f" for async_dag ({r['shape']}, {r['nodes']:,} nodes) against 4 per"
                            " run for dagfut. Reaching 10× needs dagfut's own cost per node lower"
                            " (see the first target), not a different schedule.")
        rows.append(("Far ahead of async_dag at 10k nodes (taken as ≥ 10×)",
                     f"async_dag ÷ dagfut: {detail}", verdict(least >= 10) + why))

    # 5. linear scaling.
    small, large = scaling.get(("dagfut", 1_000)), scaling.get(("dagfut", 1_000_000))
    if small and large:
        r = (large / 1_000_000) / (small / 1_000)
        ok = r <= 1.5
        why = "" if ok else (
            " Missed: at 1M nodes the run's state (arena, waker block, queue: the peak-memory"
            " table below) is far larger than the CPU caches, so every node costs cache misses"
            " that a 1k-node run, which stays in L1/L2, does not pay. The algorithm is linear"
            " (allocations and bytes per node stay flat, polls per node stay 1). What would reach"
            " it: a smaller per-node footprint (the node's future in its arena slot, the run's"
            " state words, waker slots and queue entries, the built DAG's per-task arrays: see the"
            " memory tables) and prefetching the next batch's slots." + locality)
        rows.append(("ns per node at 1M within 1.5× of ns per node at 1k",
                     f"{small / 1_000:.1f} ns/node at 1k, {large / 1_000_000:.1f} ns/node at 1M:"
                     f" {fmt_ratio(r)}", verdict(ok) + why))
    else:
        rows.append(("ns per node at 1M within 1.5× of ns per node at 1k",
                     "1M not measured in this run", "**not measured**"))

    # 6. allocations and scheduler bytes.
    if metrics:
        runs = [r for r in metrics["rows"] if r["contender"] == "dagfut"]
        most = max(r["allocations"] for r in runs)
        fewest = min(r["allocations"] for r in runs)
        smallest = min(runs, key=lambda r: r["nodes"])
        constant = smallest["allocations"]
        ok = all(r["allocations"] <= r["nodes"] + constant for r in runs)
        span = f"{fewest}" if fewest == most else f"{fewest}–{most}"
        rows.append(("Allocations per run at most one per node plus a constant",
                     f"dagfut: {span} allocations per run on every shape and workload, from"
                     f" {smallest['nodes']:,} to {max(r['nodes'] for r in runs):,} nodes"
                     " (the arena, the waker block, the ready queue, the state words)",
                     verdict(ok)))
        sched = [((r["bytes"] - r["own_bytes"]) / r["nodes"], r) for r in runs]
        worst, row = max(sched, key=lambda x: x[0])
        ok = worst <= 64
        rows.append(("Scheduler memory at most 64 bytes per node beyond the node's future and output",
                     f"at most {worst:.1f} B/node per run ({row['shape']}, {row['nodes']:,} nodes,"
                     f" {row['workload']}); the built `Dag`, shared by every run, adds"
                     f" {max(r['build_bytes'] / r['nodes'] for r in runs if r['nodes'] >= 1000):.0f}"
                     " B/node at most (bytes requested while building, vectors' regrowth included; shapes of"
                     " ≥ 1,000 nodes)",
                     verdict(ok)))
    return rows


def python_section(python, groups, scaling):
    """The optional Python async-dag comparison (`DAGFUT_BENCH_PYTHON=1 bash benches/run.sh`)."""
    md = [f"## Python: async-dag {python['async_dag']} (optional comparison)", "",
          f"The library dagfut comes from, on CPython {python['python'].split()[0]} with asyncio"
          " (`benches/python/`), ready nodes, the same node function; each graph built once and"
          f" invoked many times. Its seed graph with real timers took {python['makespan_seconds']:.3f} s"
          " (the best schedule is 1.2 s). Ratios are async-dag's ns/node ÷ dagfut's on the Rust"
          " group named in the last column.", "",
          "| shape | nodes | async-dag ns/node | dagfut ns/node | ÷ dagfut | dagfut group |",
          "|---|---|---|---|---|---|"]
    for row in python["shapes"]:
        shape, nodes = row["shape"], row["nodes"]
        rust = None
        group = f"ready-{shape}-{nodes}"
        if "dagfut" in groups.get(group, {}):
            median, elements = groups[group]["dagfut"]
            rust = (median / elements, f"ready, {nodes:,} nodes")
        elif shape == "layered" and ("dagfut", nodes) in scaling:
            rust = (scaling[("dagfut", nodes)] / nodes, f"scaling, {nodes:,} nodes")
        else:
            same = [g for g in groups if g.startswith(f"ready-{shape}-") and "dagfut" in groups[g]]
            if same:
                g = min(same, key=lambda g: abs(parse_group(g)[2] - nodes))
                median, elements = groups[g]["dagfut"]
                rust = (median / elements, f"ready, {parse_group(g)[2]:,} nodes (other size)")
        cells = [shape, f"{nodes:,}", f"{row['ns_per_node']:,.0f}"]
        if rust:
            cells += [f"{rust[0]:.1f}", fmt_ratio(row["ns_per_node"] / rust[0]), rust[1]]
        else:
            cells += ["", "", ""]
        md.append("| " + " | ".join(cells) + " |")
    for skipped in python.get("skipped", []):
        md.append(f"\nNot run: {skipped['shape']} ({skipped['why']}).")
    md += ["", "Most of async-dag's time per node is the interpreter and the event loop (every node"
           " is an asyncio task), not its scheduling: read this as the distance a Python user"
           " travels, not as a contest of designs.", ""]
    return md


def group_key(group):
    workload, shape, nodes = parse_group(group)
    order = ["seed", "chain", "wide", "fan_out", "layered"]
    return (workload, order.index(shape) if shape in order else 99, nodes)


def short(group):
    _, shape, nodes = parse_group(group)
    return f"{shape} {nodes:,}"


def scaling_points(results):
    points = {}
    for (group, contender, value), (median, _) in results.items():
        if group == "scaling" and value:
            points[(contender, value)] = median
    return points


def svg_plot(points):
    """ns/node against N, log-log, one line per contender."""
    width, height = 760, 480
    left, right, top, bottom = 80, 250, 40, 60
    series = {}
    for (contender, n), median in points.items():
        series.setdefault(contender, []).append((n, median / n))
    if not series:
        return None
    xs = [n for s in series.values() for n, _ in s]
    ys = [y for s in series.values() for _, y in s]
    x0, x1 = math.log10(min(xs)), math.log10(max(xs))
    if x1 == x0:
        x1 = x0 + 1
    y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    if y1 == y0:
        y1 = y0 + 1
    pw, ph = width - left - right, height - top - bottom

    def px(n):
        return left + (math.log10(n) - x0) / (x1 - x0) * pw

    def py(v):
        return top + ph - (math.log10(v) - y0) / (y1 - y0) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left + pw / 2}" y="22" text-anchor="middle" font-size="15">'
           'Random layered DAG, ready nodes: ns per node against N (log–log)</text>']
    for e in range(y0, y1 + 1):
        for m in (1, 2, 5):
            v = m * 10 ** e
            if v > 10 ** y1:
                continue
            y = py(v)
            stroke = "#ccc" if m == 1 else "#eee"
            out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="{stroke}"/>')
            out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{v:g}</text>')
    for n in sorted(set(xs)):
        x = px(n)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" stroke="#ccc"/>')
        label = f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"
        out.append(f'<text x="{x:.1f}" y="{top + ph + 18}" text-anchor="middle">{label}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 15}" text-anchor="middle">nodes (N)</text>')
    out.append(f'<text transform="translate(20,{top + ph / 2}) rotate(-90)" text-anchor="middle">'
               'median ns per node</text>')
    for i, contender in enumerate(sorted(series, key=lambda c: ORDER.get(c, 99))):
        pts = sorted(series[contender])
        color = COLORS.get(contender, "#000")
        path = " ".join(f"{px(n):.1f},{py(v):.1f}" for n, v in pts)
        w = 3 if contender == "dagfut" else 1.8
        out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="{w}"/>')
        for n, v in pts:
            out.append(f'<circle cx="{px(n):.1f}" cy="{py(v):.1f}" r="3" fill="{color}"/>')
        ly = top + 10 + i * 20
        out.append(f'<line x1="{left + pw + 15}" y1="{ly}" x2="{left + pw + 40}" y2="{ly}" '
                   f'stroke="{color}" stroke-width="{w}"/>')
        out.append(f'<text x="{left + pw + 46}" y="{ly + 4}">{contender}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    results = load_criterion()
    metrics = load_json("metrics.json")
    makespan = load_json("makespan.json")
    command_path = os.path.join(OUT, "command.txt")
    command = open(command_path).read().strip() if os.path.exists(command_path) else None
    groups = group_tables(results)
    scaling = scaling_points(results)
    m = machine()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    md = ["# dagfut benchmark results", "",
          "Generated by `benches/report.py` from one benchmark run: every figure below is read"
          " from criterion's `estimates.json` (median of the samples) and from the files the"
          " `allocations` and `makespan` examples wrote. Do not edit by hand; rerun instead.", "",
          f"- date: {now}",
          f"- machine: {m['nproc']} CPUs ({m['cpu']}), Linux {m['kernel']}, {m['rustc']}"]
    load_path = os.path.join(OUT, "load.txt")
    if os.path.exists(load_path):
        md.append("- load average (1, 5, 15 min) before and after the run: "
                  + "; ".join(open(load_path).read().split("\n")[:2]))
    if command:
        md.append("- command:")
        md += ["", "```sh", command, "```"]
    md += ["", "Ratios are *contender time ÷ dagfut time*: above 1 means dagfut is faster."
           " Nodes do no work of their own (they add their inputs), so what is measured is the"
           " cost of running them: the scheduler. The machine is small and shared (2 cores) and the"
           " measurement times are short: differences under ~10% are noise, and a small group"
           " can move more than that between runs; read the ratios, not the third digit.", ""]

    md += ["## Targets (issue 5)", "", "| target | measured | verdict |", "|---|---|---|"]
    for target, measured, ok in targets(groups, scaling, metrics):
        md.append(f"| {target} | {measured} | {ok} |")
    md.append("")

    if makespan:
        md += ["## Makespan: the seed graph with real timers (smol)", "",
               "`fast_a` 100 ms → `slow_b` 1 s; `slow_a` 500 ms and `fast_b` 100 ms → `fast_c`"
               " 100 ms; `end` 100 ms. Best schedule 1.2 s, one join per layer 1.6 s"
               " (`cargo run --release -p dagfut-benches --example makespan`).", "",
               "| contender | wall time |", "|---|---|"]
        for name, seconds in makespan.items():
            md.append(f"| {name} | {seconds:.3f} s |")
        md.append("")

    for workload, title in (("ready", "Nodes ready on their first poll"),
                            ("pend", "Nodes that return `Pending` once, woken in a shuffled order")):
        md += [f"## {title}", ""]
        for group in sorted((g for g in groups if g.startswith(workload + "-")), key=group_key):
            _, shape, nodes = parse_group(group)
            md += [f"### {SHAPE_TEXT.get(shape, shape)}: {nodes:,} nodes", "",
                   "| contender | median | ns/node | ÷ dagfut |", "|---|---|---|---|"]
            g = groups[group]
            base = g.get("dagfut", (None,))[0]
            for contender in sorted(g, key=lambda c: ORDER.get(c, 99)):
                median, elements = g[contender]
                per = f"{median / elements:.1f}" if elements else ""
                rel = fmt_ratio(median / base) if base else ""
                md.append(f"| {LABEL.get(contender, contender)} | {fmt_time(median)} | {per} | {rel} |")
            md.append("")

    if scaling:
        sizes = sorted({n for _, n in scaling})
        contenders = sorted({c for c, _ in scaling}, key=lambda c: ORDER.get(c, 99))
        md += ["## Scaling: random layered DAG, ready nodes, ns per node", "",
               "![ns per node against N](scaling.svg)", "",
               "| contender | " + " | ".join(f"{n:,}" for n in sizes) + " |",
               "|---|" + "---|" * len(sizes)]
        for c in contenders:
            cells = [f"{scaling[(c, n)] / n:.1f}" if (c, n) in scaling else "" for n in sizes]
            md.append(f"| {LABEL.get(c, c)} | " + " | ".join(cells) + " |")
        md.append("")
        md.append("Slow contenders stop early (JoinSet and async_dag at 100k, dagx at 10k) to keep"
                  " the run short on this machine. *dagfut, same layers with local edges* runs the"
                  " same layer sizes and fan-ins with each node taking its neighbours in the layer"
                  " before: the difference to *dagfut* is the cost of scattered memory access.")
        md.append("")

    if metrics:
        md += ["## Memory and polls per run (`--example allocations`, counting allocator)", "",
               "Bytes are bytes requested from the allocator during one run (after a first"
               " run). *Scheduler B/node* is dagfut's bytes per run minus its node futures'"
               " own size (`size_of_val` of each node's future, at least its `u64` output),"
               " divided by the node count. Polls are counted by the node futures themselves.", "",
               "| shape | nodes | workload | contender | allocations | bytes/node | scheduler B/node | polls/node |",
               "|---|---|---|---|---|---|---|---|"]
        for r in metrics["rows"]:
            if r["shape"] == "scaling":
                continue
            sched = (f"{(r['bytes'] - r['own_bytes']) / r['nodes']:.1f}"
                     if r["contender"] == "dagfut" else "")
            md.append(f"| {r['shape']} | {r['nodes']:,} | {r['workload']} | {r['contender']} |"
                      f" {r['allocations']:,} | {r['bytes'] / r['nodes']:.1f} | {sched} |"
                      f" {r['polls'] / r['nodes']:.2f} |")
        md.append("")
        md += ["### dagfut across the scaling series", "",
               "| nodes | workload | allocations per run | bytes/node per run | scheduler B/node | building the `Dag`: B/node requested |",
               "|---|---|---|---|---|---|"]
        for r in metrics["rows"]:
            if r["shape"] == "scaling" and r["contender"] == "dagfut":
                md.append(f"| {r['nodes']:,} | {r['workload']} | {r['allocations']} |"
                          f" {r['bytes'] / r['nodes']:.1f} |"
                          f" {(r['bytes'] - r['own_bytes']) / r['nodes']:.1f} |"
                          f" {r['build_bytes'] / r['nodes']:.1f} |")
        md.append("")
        md += ["### Peak memory of the scaling run (dagfut: build + one run)", "",
               "| nodes | peak heap | per node |", "|---|---|---|"]
        for p in metrics["scaling_peak"]:
            md.append(f"| {p['nodes']:,} | {p['peak'] / 1e6:.2f} MB | {p['peak'] / p['nodes']:.1f} B |")
        if metrics.get("vm_hwm_kb"):
            md.append("")
            md.append(f"Peak resident memory of the whole `allocations` process (all shapes and"
                      f" contenders, VmHWM): {metrics['vm_hwm_kb'] / 1024:.0f} MiB.")
        md.append("")

    python = load_json("python.json")
    if python:
        md += python_section(python, groups, scaling)

    md += ["## What cannot be compared", "",
           "- dagx takes at most 8 dependencies per task and async_dag at most 12 arguments: the"
           " wide shape's 10,000-input node cannot be written for either.",
           "- dagx and async_dag graphs run once (their tasks are consumed), so each measured run"
           " gets a freshly built graph (built outside the timed part); dagx needs a spawner and"
           " runs on a tokio current-thread runtime here, and runs layer by layer (see the"
           " makespan table).",
           "- JoinSet, dagx and the polling floor run the ready workload only: the pend-once driver"
           " parks wakers on the benchmark's thread.",
           "- The hand-written `FuturesUnordered` and JoinSet baselines copy their inputs into each"
           " node future (a node cannot borrow from outputs that are still being written); the"
           " per-layer join, the flat join and the floor borrow them, as dagfut does.", ""]

    with open(os.path.join(HERE, "RESULTS.md"), "w") as f:
        f.write("\n".join(md))
    svg = svg_plot(scaling)
    if svg:
        with open(os.path.join(HERE, "scaling.svg"), "w") as f:
            f.write(svg)
    print(f"wrote {os.path.join(HERE, 'RESULTS.md')}" + (" and scaling.svg" if svg else ""))


if __name__ == "__main__":
    main()
