"""PNG figures of the benchmarks: each measured figure beside its baseline from the same run.

Reads `bench/results/<name>.json` and draws `bench/results/<name>.png`, one per benchmark that has
results (and a drawing below). The bench scripts call `draw_available([name])` after writing their
results; run by hand it redraws every one:

    .venv/bin/python bench/plots.py [NAME ...]

Needs matplotlib, a bench-only dependency: `.venv/bin/uv pip install -e '.[bench]'` (`make bench` does).
Not a test: nothing here runs under pytest.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes

RESULTS_DIR = Path(__file__).resolve().parent / "results"
MEASURED, BASELINE, TARGET = "#c0392b", "#7f8c8d", "#2c3e50"

Results = dict[str, Any]


def _bars(
    ax: Axes,
    labels: Sequence[str],
    values: Sequence[float | None],
    colors: Sequence[str],
    fmt: str = "{:,.1f}",
) -> None:
    """One bar per value, each labelled with its figure (a missing value draws no bar)."""
    xs = range(len(labels))
    heights = [v or 0.0 for v in values]
    bars = ax.bar(xs, heights, color=colors, width=0.6)
    for bar, value in zip(bars, values, strict=True):
        if value is not None:
            ax.annotate(fmt.format(value), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")  # fmt: skip
    ax.set_xticks(list(xs), labels, fontsize=8)


def _grouped(
    ax: Axes, groups: Sequence[str], series: dict[str, Sequence[float | None]], colors: Sequence[str]
) -> None:
    """Bars grouped by `groups`, one per series, with a legend."""
    width = 0.8 / max(1, len(series))
    for n, (name, values) in enumerate(series.items()):
        xs = [g + (n - (len(series) - 1) / 2) * width for g in range(len(groups))]
        bars = ax.bar(xs, [v or 0.0 for v in values], width=width, label=name, color=colors[n % len(colors)])
        for bar, value in zip(bars, values, strict=True):
            if value is not None:
                ax.annotate(f"{value:,.0f}" if abs(value) >= 10 else f"{value:,.1f}",
                            (bar.get_x() + bar.get_width() / 2, max(bar.get_height(), 0)),
                            ha="center", va="bottom", fontsize=6, xytext=(0, 1), textcoords="offset points")  # fmt: skip
    ax.set_xticks(list(range(len(groups))), groups, fontsize=8)
    ax.legend(fontsize=7)


def _target(ax: Axes, value: float, label: str) -> None:
    ax.axhline(value, color=TARGET, linestyle="--", linewidth=1)
    ax.annotate(label, (0.01, value), xycoords=("axes fraction", "data"), fontsize=7, color=TARGET,
                va="bottom")  # fmt: skip


def http_overhead(r: Results, axes: Sequence[Axes]) -> str:
    bare, graphql = r["results"]["bare"], r["results"]["graphql"]
    _bars(axes[0], ["bare starlette\n+ token lookup", "dealflow /graphql\n{ viewer { id } }"],
          [bare["requests_per_second"], graphql["requests_per_second"]], [BASELINE, MEASURED])  # fmt: skip
    axes[0].set_ylabel("requests/s")
    axes[0].set_title(f"throughput: ratio {r['ratio_graphql_over_bare']:.3f}", fontsize=9)
    _grouped(axes[1], ["p50", "p99"], {"bare": [bare["p50_ms"], bare["p99_ms"]],
                                       "graphql": [graphql["p50_ms"], graphql["p99_ms"]]}, [BASELINE, MEASURED])  # fmt: skip
    axes[1].set_ylabel("latency, ms")
    axes[1].set_title(f"latency, {r['connections']} connections", fontsize=9)
    return f"http_overhead: {{ viewer {{ id }} }} against a bare endpoint ({r['when'][:10]})"


def board(r: Results, axes: Sequence[Axes]) -> str:
    res = r["results"]
    peer = "postgraphile" in res
    names = ["raw", "graphql", *(["postgraphile"] if peer else [])]
    labels = {
        "raw": "raw asyncpg\n+ starlette",
        "graphql": "dealflow\n/graphql",
        "postgraphile": "PostGraphile v4\n+ pg-aggregates",
    }
    colors = {"raw": BASELINE, "graphql": MEASURED, "postgraphile": "#2980b9"}
    _bars(axes[0], [labels[n] for n in names], [res[n]["requests_per_second"] for n in names],
          [colors[n] for n in names])  # fmt: skip
    raw = res["raw"]["requests_per_second"]
    target = r.get("target_ratio", 0.6) * raw
    _target(axes[0], target, f"target: graphql >= {r.get('target_ratio', 0.6)} x raw ({target:,.1f}/s)")
    axes[0].set_ylabel("requests/s")
    title = f"graphql/raw {r['ratio_graphql_over_raw']:.3f}"
    if peer:
        title += f", graphql/postgraphile {r['ratio_graphql_over_postgraphile']:.3f}"
    axes[0].set_title(title, fontsize=9)
    _grouped(axes[1], ["p50", "p99"], {n: [res[n]["p50_ms"], res[n]["p99_ms"]] for n in names},
             [colors[n] for n in names])  # fmt: skip
    axes[1].set_ylabel("latency, ms")
    axes[1].set_title(f"latency, {r['connections']} connections", fontsize=9)
    data = r.get("data", {})
    return (
        f"board: {data.get('deals', '?'):,} deals, perStage {data.get('per_stage', '?')} ({r['when'][:10]})"
    )


def approvals(r: Results, axes: Sequence[Axes]) -> str:
    phases = r["phases"]
    names = list(phases)
    _bars(axes[0], [n.replace(" ", "\n", 1) for n in names], [phases[n]["per_second"] for n in names],
          [BASELINE if n.startswith("baseline") else MEASURED for n in names])  # fmt: skip
    _target(
        axes[0],
        r["targets"]["decisions_per_second"],
        f"target: {r['targets']['decisions_per_second']} decisions/s",
    )
    axes[0].set_ylabel("requests/s")
    axes[0].set_title(f"no subscribers (grey) against {r['subscribers']} subscribers (red)", fontsize=9)
    latency = r["latency"]
    kinds = [k for k in ("decided_from_server_stamp", "decided_from_request_sent", "decided_from_response")
             if k in latency]  # fmt: skip
    labels = [k.removeprefix("decided_").replace("_", " ") for k in kinds]
    _grouped(axes[1], labels, {"p50": [latency[k]["p50_ms"] for k in kinds],
                               "p99": [latency[k]["p99_ms"] for k in kinds]}, [BASELINE, MEASURED])  # fmt: skip
    _target(axes[1], r["targets"]["p99_ms"], f"target p99 < {r['targets']['p99_ms']} ms")
    axes[1].set_ylabel("ms")
    axes[1].set_title("approval.decided delivered to each subscriber", fontsize=9)
    return f"approvals: {r['deals']} decisions, {r['clients']} clients ({r['when'][:10]})"


def lifecycle(r: Results, axes: Sequence[Axes]) -> str:
    _bars(axes[0], ["bare UPDATE of\nthe contacts (baseline)", "whole use case"],
          [r["baseline_update_median_s"], r["use_case_median_s"]], [BASELINE, MEASURED], "{:.3f} s")  # fmt: skip
    _target(axes[0], 1.0, "target: under 1 s")
    axes[0].set_ylabel("seconds (median)")
    axes[0].set_title(f"ratio {r['ratio_use_case_to_baseline']}x the baseline", fontsize=9)
    _bars(axes[1], ["SQL statements sent"], [r["statements_sent"]], [MEASURED], "{:,.0f}")
    axes[1].set_title(f"{r['events_emitted']:,} events emitted", fontsize=9)
    return f"lifecycle: a company with {r['contacts']:,} contacts changes stage ({r['when'][:10]})"


def imports(r: Results, axes: Sequence[Axes]) -> str:
    _bars(axes[0], ["COPY into a plain\ntable (baseline)", "dealflow import"],
          [r["baseline_copy_rows_per_s"], r["rows_per_s"]], [BASELINE, MEASURED], "{:,.0f}")  # fmt: skip
    axes[0].set_yscale("log")
    axes[0].set_ylim(bottom=1_000)
    _target(axes[0], 20_000, "target: >= 20,000 rows/s")
    axes[0].set_ylabel("rows/s (log scale)")
    axes[0].set_title(f"import takes {r['ratio_import_to_copy_time']}x the COPY's time", fontsize=9)
    _bars(axes[1], ["peak RSS growth", "tracemalloc peak"], [r["peak_rss_growth_mb"], r["tracemalloc_peak_mb"]],
          [MEASURED, MEASURED], "{:.1f} MB")  # fmt: skip
    _target(axes[1], 200, "target: < 200 MB")
    axes[1].set_ylabel("MB")
    axes[1].set_title("memory while importing", fontsize=9)
    return f"import: {r['rows']:,} contacts from CSV ({r['when'][:10]})"


def load(r: Results, axes: Sequence[Axes]) -> str:
    base, loaded = r["baseline"], r["load"]
    ops = [op for op in loaded["latency"] if op != "all"]
    shades = ["#bdc3c7", BASELINE, "#e6a09a", MEASURED]
    _grouped(axes[0], [op.replace("_", "\n") for op in ops], {
        "alone p50": [base["latency"].get(op, {}).get("p50_ms") for op in ops],
        "alone p99": [base["latency"].get(op, {}).get("p99_ms") for op in ops],
        "under load p50": [loaded["latency"][op]["p50_ms"] for op in ops],
        "under load p99": [loaded["latency"][op]["p99_ms"] for op in ops],
    }, shades)  # fmt: skip
    axes[0].set_yscale("log")
    axes[0].set_ylabel("ms (log scale)")
    axes[0].set_title(f"requests: one client alone against {r['clients']} clients "
                      f"({loaded['requests_per_second']:,.0f} requests/s)", fontsize=9)  # fmt: skip
    kinds = {"from created_at": "from_event_created_at", "from the response": "from_mutation_response"}
    _grouped(axes[1], list(kinds), {
        "alone p50": [base["delivery"][k]["p50_ms"] for k in kinds.values()],
        "alone p99": [base["delivery"][k]["p99_ms"] for k in kinds.values()],
        "under load p50": [loaded["delivery"][k]["p50_ms"] for k in kinds.values()],
        "under load p99": [loaded["delivery"][k]["p99_ms"] for k in kinds.values()],
    }, shades)  # fmt: skip
    axes[1].set_yscale("symlog", linthresh=10)  # from milliseconds alone to seconds under load; some negative
    highest = max(loaded["delivery"][k]["p99_ms"] or 0 for k in kinds.values())
    axes[1].set_ylim(-10, max(100, highest) * 4)
    axes[1].set_ylabel("ms (log scale above 10)")
    v = loaded["verification"]["subscribers"]
    axes[1].set_title(f"delivery: {base['subscribers']['total']} subscribers against "
                      f"{loaded['subscribers']['total']:,} ({v['exactly_their_events_once_in_order']:,} exact)",
                      fontsize=9)  # fmt: skip
    rates = [100 * base["error_rate"], 100 * loaded["error_rate"]]
    _bars(axes[2], ["alone", "under load"], rates, [BASELINE, MEASURED], "{:.3f}%")
    target = 100 * r["targets"]["error_rate"]
    _target(axes[2], target, f"target < {target:.1f}%")
    axes[2].set_ylim(0, max(*rates, target) * 1.5)
    axes[2].set_ylabel("errors, % of requests")
    axes[2].set_title(f"errors: {loaded['errors']:,} of {loaded['requests']:,} ({loaded['refused']:,} refused)",
                      fontsize=9)  # fmt: skip
    over = loaded["delivery"].get("over_time") or []
    for n, (label, color) in enumerate((("p50", BASELINE), ("p99", MEASURED)), start=1):
        axes[3].plot([row[0] for row in over], [row[n] for row in over], marker="o", markersize=3,
                     label=f"under load {label}", color=color)  # fmt: skip
    axes[3].set_xlabel("seconds into the run (when the event was created)")
    axes[3].set_ylabel("ms from created_at")
    axes[3].legend(fontsize=7)
    axes[3].set_title(f"delivery over the run; {loaded.get('events_appended_per_second', '?')} events "
                      "appended/s (all types)", fontsize=9)  # fmt: skip
    return (f"load: two processes ({r['broadcast']}), {r['duration_seconds']:.0f} s, {r['machine']['cpus']} cores "
            f"shared by servers, database and load generators ({r['when'][:10]})")  # fmt: skip


DRAWINGS: dict[str, tuple[Callable[[Results, Sequence[Axes]], str], int]] = {
    "http_overhead": (http_overhead, 2),
    "board": (board, 2),
    "approvals": (approvals, 2),
    "lifecycle": (lifecycle, 2),
    "import": (imports, 2),
    "load": (load, 4),
}


def _load(name: str) -> Results | None:
    path = RESULTS_DIR / f"{name}.json"
    if not path.exists():
        return None
    found: Results = json.loads(path.read_text())
    return found


def draw(name: str) -> Path | None:
    """bench/results/<name>.png from bench/results/<name>.json; None when there are no results."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = _load(name)
    if results is None:
        return None
    drawing, panels = DRAWINGS[name]
    rows, cols = (2, 2) if panels == 4 else (1, panels)
    fig, grid = plt.subplots(rows, cols, figsize=(5.6 * cols, 4.2 * rows), squeeze=False)
    axes = [ax for row in grid for ax in row]
    title = drawing(results, axes)
    fig.suptitle(title, fontsize=10)
    for ax in axes:
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    fig.tight_layout()
    out = RESULTS_DIR / f"{name}.png"
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def draw_available(names: Sequence[str] = ()) -> list[Path]:
    """Draw the named benchmarks (default: all) that have results; tells when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print(
            "plots: matplotlib is not installed (.venv/bin/uv pip install -e '.[bench]'); no PNG drawn",
            file=sys.stderr,
        )
        return []
    drawn = []
    for name in names or DRAWINGS:
        out = draw(name)
        if out is not None:
            print(f"drawn {out.relative_to(RESULTS_DIR.parent.parent)}")
            drawn.append(out)
    return drawn


if __name__ == "__main__":
    unknown = [n for n in sys.argv[1:] if n not in DRAWINGS]
    if unknown:
        sys.exit(f"no drawing for {', '.join(unknown)}; known: {', '.join(DRAWINGS)}")
    draw_available(sys.argv[1:])
