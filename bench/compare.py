"""One benchmark, two commits of the app, interleaved rounds: is this commit slower than that one?

The benchmark script and its measuring code are this checkout's; only the app it serves differs.
The base commit is checked out into a temporary git worktree and put first on `PYTHONPATH` for its
rounds (the servers the scripts start in subprocesses inherit it). Rounds alternate base, head,
base, head, ... so load from elsewhere on the machine falls on both alike; the report gives, for
each figure whose path matches `--metric`, every round's value and the median of head / base.

    .venv/bin/python bench/compare.py --base 41ad9d6 --rounds 3 approvals.py -- --deals 200

Run it from a worktree of the commit to measure (`git worktree add /tmp/head HEAD`, then that tree's
bench/compare.py with this venv's python) to keep editing this checkout meanwhile.

Results: printed, and written to bench/results/compare-<script>-<base>.json. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_METRIC = r"per_second$|server_cpu_seconds$|ratio|p50_ms$|p99_ms$"


def numbers(found: Any, path: str = "") -> Iterator[tuple[str, float]]:
    """Every numeric leaf of a results file, by its dotted path (lists are skipped)."""
    if isinstance(found, dict):
        for key, value in found.items():
            yield from numbers(value, f"{path}.{key}" if path else str(key))
    elif isinstance(found, int | float) and not isinstance(found, bool):
        yield path, float(found)


def run_once(script: str, args: list[str], tree: Path, out: Path) -> dict[str, float]:
    env = dict(os.environ)
    # The tree first on the path, for head too: the venv's editable install may point at another
    # checkout (a compare run from a worktree of the commit to measure, while work goes on in main).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), env.get("PYTHONPATH")]))
    command = [sys.executable, str(HERE / script), *args, "--out", str(out)]
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return dict(numbers(json.loads(out.read_text())))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", required=True, help="the commit to compare against (any git revision)")
    p.add_argument("--rounds", type=int, default=3, help="rounds per commit (default 3)")
    p.add_argument("--metric", default=DEFAULT_METRIC, help=f"regex of figures to report ({DEFAULT_METRIC})")
    p.add_argument("script", help="a bench script that takes --out, e.g. approvals.py")
    p.add_argument("args", nargs=argparse.REMAINDER, help="after --: the script's own arguments")
    args = p.parse_args()
    script_args = [a for a in args.args if a != "--"]
    wanted = re.compile(args.metric)
    rounds: dict[str, list[dict[str, float]]] = {"base": [], "head": []}
    with tempfile.TemporaryDirectory(prefix="dealflow-compare-") as tmp:
        base_tree = Path(tmp) / "base"
        subprocess.run(
            ["git", "worktree", "add", "-q", "--detach", str(base_tree), args.base], cwd=ROOT, check=True
        )
        try:
            for i in range(args.rounds):
                for name, tree in (("base", base_tree), ("head", ROOT)):
                    print(f"round {i + 1}/{args.rounds}: {name}", file=sys.stderr, flush=True)
                    rounds[name].append(run_once(args.script, script_args, tree, Path(tmp) / f"{name}.json"))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, check=False)
    head_rev = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    keys = [k for k in rounds["head"][0] if wanted.search(k) and all(k in r for r in rounds["base"])]
    report: dict[str, Any] = {"script": args.script, "args": script_args, "base": args.base, "head": head_rev}
    report["figures"] = {}
    width = max((len(k) for k in keys), default=10)
    print(f"{'figure':<{width}}  {'base rounds':>26}  {'head rounds':>26}  median head/base")
    for key in keys:
        base = [r[key] for r in rounds["base"]]
        head = [r[key] for r in rounds["head"]]
        ratios = [h / b for h, b in zip(head, base, strict=True) if b]
        ratio = round(statistics.median(ratios), 3) if ratios else None
        report["figures"][key] = {"base": base, "head": head, "median_ratio": ratio}
        shown = lambda values: " ".join(f"{v:8.2f}" for v in values)  # noqa: E731
        print(f"{key:<{width}}  {shown(base):>26}  {shown(head):>26}  {ratio}")
    out = HERE / "results" / f"compare-{Path(args.script).stem}-{args.base}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
