"""Plots of the bench results as SVG: the demo against the lower bound round by round (bench_demo.py), and one
check cycle's time against the number of tracked jobs (bench_check_cycle.py).

Each bench writes its results with `--json FILE` and can draw its plot at once with `--plot FILE.svg`; this
script redraws a plot from saved results (several check-cycle files are merged, e.g. runs of several days):

    .venv/bin/python bench/plots.py demo results.json docs/bench-demo.svg
    .venv/bin/python bench/plots.py check-cycle a.json [b.json ...] docs/bench-check-cycle.svg

Written by hand with the project's SVG helpers (buildlib/pictures/svgkit.py): no plotting library to install.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import unescape

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from buildlib.pictures.svgkit import (  # noqa: E402
    document,
    esc,
    log_ticks,
    nice_ticks,
    num,
    seconds_label,
    text_width,
)

# Sizes in px.
PLOT_H, MARGIN, LEFT, TOP, BOTTOM = 300.0, 16.0, 64.0, 64.0, 92.0
SMALL = 11.0
# The demo's parts, bottom to top, and the lower bound's colour.
DEMO_PARTS = (
    ("deploy_s", "deploy (package, upload, 4 stacks)", "#8d99a8"),
    ("glue_s", "inside Glue job runs", "#0972d3"),
    ("overhead_s", "orchestration overhead", "#ed7100"),
)
LOWER_BOUND_COLOUR = "#1d8102"
STYLE = (
    ".heading{font-size:15px;font-weight:600}.tick,.note{font-size:11px;fill:#414d5c}"
    ".axis{stroke:#414d5c;stroke-width:1}.grid{stroke:#e9ebed;stroke-width:1}"
)


def _frame(title: str, subtitle: str) -> list[str]:
    return [
        f'<text x="{num(MARGIN)}" y="{num(MARGIN + 12)}" class="heading">{esc(title)}</text>',
        f'<text x="{num(MARGIN)}" y="{num(MARGIN + 30)}" class="note">{esc(subtitle)}</text>',
    ]


def _text_right(body: list[str]) -> float:
    """Where the widest left-aligned line of text (title, subtitle, note) ends, plus the margin."""
    right = 0.0
    for element in body:
        match = re.match(r'<text x="([\d.]+)" y="[\d.]+" class="(heading|note)">(.*)</text>$', element)
        if match:
            size = 15.0 if match[2] == "heading" else SMALL
            right = max(right, float(match[1]) + text_width(unescape(match[3]), size, match[2] == "heading"))
    return right + MARGIN


def _y_axis(ticks: list[float], y_of, right: float, label) -> list[str]:
    out = []
    for tick in ticks:
        y = y_of(tick)
        out.append(f'<line x1="{num(LEFT)}" y1="{num(y)}" x2="{num(right)}" y2="{num(y)}" class="grid"/>')
        out.append(
            f'<text x="{num(LEFT - 6)}" y="{num(y + 4)}" class="tick" text-anchor="end">'
            f"{esc(label(tick))}</text>"
        )
    return out


def _legend(items: Sequence[tuple[str, str, str]], y: float) -> tuple[list[str], float]:
    """(kind, colour, text) items in rows: kind "box", "line" or "dash"."""
    out, x = [], MARGIN
    for kind, colour, text in items:
        if kind == "box":
            out.append(f'<rect x="{num(x)}" y="{num(y - 9)}" width="14" height="10" fill="{colour}"/>')
        else:
            dash = ' stroke-dasharray="5 3"' if kind == "dash" else ""
            out.append(
                f'<line x1="{num(x)}" y1="{num(y - 4)}" x2="{num(x + 14)}" y2="{num(y - 4)}" '
                f'stroke="{colour}" stroke-width="1.5"{dash}/>'
            )
        out.append(f'<text x="{num(x + 19)}" y="{num(y)}" class="tick">{esc(text)}</text>')
        x += 19 + text_width(text, SMALL) + 18
    return out, x


def demo_plot(results: dict[str, Any]) -> str:
    """bench_demo.py's rounds: per round, a stacked bar per time scale (deploy, Glue, overhead) beside the
    lower bound's bar, each demo bar labelled with its time over the lower bound's."""
    rounds = results["rounds"]
    scales = results["scales"]
    bars_per_round = len(scales) + 1
    bar_w, bar_gap, gap = 36.0, 6.0, 28.0
    group_w = bars_per_round * bar_w + (bars_per_round - 1) * bar_gap
    plot_w = max(len(rounds) * (group_w + gap) + gap, 360.0)
    highest = max(
        [r["lower_bound_s"] or 0 for r in rounds] + [r["demo"][s]["total_s"] for r in rounds for s in scales]
    )
    ticks = nice_ticks(0, highest * 1.12, 6)
    top, right = TOP, LEFT + plot_w

    def y_of(value: float) -> float:
        return top + PLOT_H - value / ticks[-1] * PLOT_H

    body = _frame(
        "The demo against the lower bound, round by round",
        f"bench/bench_demo.py, {results['date']}, {results['machine']}; a demo bar per time scale, "
        "then the lower bound",
    )
    body += _y_axis(ticks, y_of, right, seconds_label)
    for i, rnd in enumerate(rounds):
        x = LEFT + gap + i * (group_w + gap)
        for scale in scales:
            run = rnd["demo"][scale]
            parts = {**run, "overhead_s": run["total_s"] - run["glue_s"] - run["deploy_s"]}
            base = 0.0
            for key, _, colour in DEMO_PARTS:
                height = max(parts[key], 0.0)
                body.append(
                    f'<rect x="{num(x)}" y="{num(y_of(base + height))}" width="{num(bar_w)}" '
                    f'height="{num(y_of(base) - y_of(base + height))}" fill="{colour}">'
                    f"<title>scale {esc(scale)}: {esc(key)} {parts[key]:.1f} s</title></rect>"
                )
                base += height
            above = f"{run['total_s'] / rnd['lower_bound_s']:.2f}×" if rnd["lower_bound_s"] else ""
            body.append(
                f'<text x="{num(x + bar_w / 2)}" y="{num(y_of(run["total_s"]) - 4)}" class="tick" '
                f'text-anchor="middle">{esc(above)}</text>'
            )
            body.append(
                f'<text x="{num(x + bar_w / 2)}" y="{num(top + PLOT_H + 13)}" class="tick" '
                f'text-anchor="middle">×{esc(scale)}</text>'
            )
            x += bar_w + bar_gap
        if rnd["lower_bound_s"]:
            value = rnd["lower_bound_s"]
            body.append(
                f'<rect x="{num(x)}" y="{num(y_of(value))}" width="{num(bar_w)}" '
                f'height="{num(y_of(0) - y_of(value))}" fill="{LOWER_BOUND_COLOUR}">'
                f"<title>lower bound {value:.1f} s</title></rect>"
            )
            body.append(
                f'<text x="{num(x + bar_w / 2)}" y="{num(top + PLOT_H + 13)}" class="tick" '
                'text-anchor="middle">lb</text>'
            )
        centre = LEFT + gap + i * (group_w + gap) + group_w / 2
        body.append(
            f'<text x="{num(centre)}" y="{num(top + PLOT_H + 30)}" class="tick" text-anchor="middle">'
            f"round {rnd['round']}</text>"
        )
    body.append(
        f'<line x1="{num(LEFT)}" y1="{num(y_of(0))}" x2="{num(right)}" y2="{num(y_of(0))}" class="axis"/>'
    )
    items = [("box", colour, text) for _, text, colour in DEMO_PARTS]
    items.append(("box", LOWER_BOUND_COLOUR, "lower bound (lb): the 3 transforms in one SparkSession"))
    legend, legend_right = _legend(items[:3], top + PLOT_H + 56)
    more, more_right = _legend(items[3:], top + PLOT_H + 74)
    body += legend + more
    note = "×1: AWS's real clock; ×0.002: waits scaled. Above each demo bar: its time / the round's lb."
    body.append(f'<text x="{num(MARGIN)}" y="{num(top + PLOT_H + 92)}" class="note">{esc(note)}</text>')
    width = max(right + MARGIN, legend_right, more_right, _text_right(body))
    return document(
        width, top + PLOT_H + BOTTOM + MARGIN, body, "bench_demo: the demo against the lower bound", STYLE
    )


def _latency_s(latency: str) -> float:
    """`30ms` / `0.03s` / `0` as seconds."""
    text = latency.strip().lower()
    if text.endswith("ms"):
        return float(text[:-2]) / 1000
    return float(text.rstrip("s") or 0)


def check_cycle_plot(results: Sequence[dict[str, Any]]) -> str:
    """bench_check_cycle.py's runs (several result files merged): each run's time against N on log-log
    axes, a line through the medians, the 300 s Lambda timeout, and what the added latency alone costs."""
    rows = [row for result in results for row in result["rows"]]
    latency = _latency_s(results[0]["latency"])
    concurrency = int(results[0]["concurrency"])
    sizes = sorted({row["n"] for row in rows})
    timeout = float(results[0].get("lambda_timeout_s", 300))
    floor = {n: 2 * n * latency / concurrency for n in sizes}  # GetJobRun + SendTaskHeartbeat per job
    low = min([r["seconds"] for r in rows] + [f for f in floor.values() if f > 0])
    x_ticks, y_ticks = log_ticks(min(sizes), max(sizes)), log_ticks(max(low, 0.001), timeout * 1.01)
    plot_w = 420.0
    right = LEFT + plot_w

    def x_of(n: float) -> float:
        span = math.log10(x_ticks[-1]) - math.log10(x_ticks[0]) or 1
        return LEFT + (math.log10(n) - math.log10(x_ticks[0])) / span * plot_w

    def y_of(value: float) -> float:
        span = math.log10(y_ticks[-1]) - math.log10(y_ticks[0]) or 1
        return TOP + PLOT_H - (math.log10(max(value, y_ticks[0])) - math.log10(y_ticks[0])) / span * PLOT_H

    dates = sorted({result["date"] for result in results})
    body = _frame(
        "One check cycle's time against the number of tracked jobs",
        f"bench/bench_check_cycle.py, {', '.join(dates)}; {results[0]['latency']} added to every call, "
        f"CHECK_CONCURRENCY {concurrency}",
    )
    body += _y_axis(y_ticks, y_of, right, seconds_label)
    for tick in x_ticks:
        x = x_of(tick)
        body.append(
            f'<line x1="{num(x)}" y1="{num(TOP)}" x2="{num(x)}" y2="{num(TOP + PLOT_H)}" class="grid"/>'
        )
        body.append(
            f'<text x="{num(x)}" y="{num(TOP + PLOT_H + 14)}" class="tick" text-anchor="middle">'
            f"{tick:,.0f}</text>"
        )
    body.append(
        f'<text x="{num(LEFT + plot_w / 2)}" y="{num(TOP + PLOT_H + 30)}" class="tick" text-anchor="middle">'
        "N tracked jobs (each a running Glue job and a waiting task)</text>"
    )
    body.append(
        f'<line x1="{num(LEFT)}" y1="{num(y_of(timeout))}" x2="{num(right)}" y2="{num(y_of(timeout))}" '
        'stroke="#d13212" stroke-width="1.5" stroke-dasharray="5 3"/>'
    )
    if latency > 0:
        points = " ".join(f"{num(x_of(n))},{num(y_of(floor[n]))}" for n in sizes)
        body.append(
            f'<polyline points="{points}" fill="none" stroke="#8d99a8" stroke-width="1.5" '
            'stroke-dasharray="2 3"/>'
        )
    medians = [(n, statistics.median(r["seconds"] for r in rows if r["n"] == n)) for n in sizes]
    points = " ".join(f"{num(x_of(n))},{num(y_of(m))}" for n, m in medians)
    body.append(f'<polyline points="{points}" fill="none" stroke="#0972d3" stroke-width="1.5"/>')
    for row in rows:
        fill = "#0972d3" if row["all_checked"] and not row["errors"] else "#d13212"
        body.append(
            f'<circle cx="{num(x_of(row["n"]))}" cy="{num(y_of(row["seconds"]))}" r="4" fill="{fill}" '
            f'fill-opacity="0.75"><title>N={row["n"]}: {row["seconds"]} s, '
            f"{row['per_second']} jobs/s</title></circle>"
        )
    items = [
        ("box", "#0972d3", "a run (line: median)"),
        ("box", "#d13212", "a run that did not check every job"),
        ("dash", "#d13212", f"the Lambda timeout ({timeout:.0f} s)"),
    ]
    if latency > 0:
        items.append(
            (
                "dash",
                "#8d99a8",
                f"the added latency alone (2 calls × {results[0]['latency']} / {concurrency})",
            )
        )
    legend, legend_right = _legend(items[:2], TOP + PLOT_H + 56)
    more, more_right = _legend(items[2:], TOP + PLOT_H + 74)
    body += legend + more
    width = max(right + MARGIN, legend_right, more_right, _text_right(body))
    return document(
        width, TOP + PLOT_H + BOTTOM, body, "bench_check_cycle: check-cycle time against N", STYLE
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("demo", "check-cycle"))
    parser.add_argument("results", nargs="+", type=Path, help="the bench's --json file(s)")
    parser.add_argument("output", type=Path, help="the SVG to write")
    args = parser.parse_args(argv)
    loaded = [json.loads(path.read_text()) for path in args.results]
    if args.kind == "demo":
        if len(loaded) != 1:
            parser.error("demo takes one results file")
        svg = demo_plot(loaded[0])
    else:
        svg = check_cycle_plot(loaded)
    args.output.write_text(svg)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
