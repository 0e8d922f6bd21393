"""The bench plots (bench/plots.py) on small results recorded by the benches themselves (tests/bench/data/:
`bench_demo.py --runs 1 --json` and `bench_check_cycle.py --sizes 20,60 --runs 2 --latency 5ms --json`).

Test input only: they were recorded on a 2-core machine shared with other work (load average near 30), so
their figures say nothing about the project's speed."""

from __future__ import annotations

import copy
import json
import math
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
DATA = Path(__file__).resolve().parent / "data"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(autouse=True)
def bench_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))  # the benches import their siblings by name, as when run
    yield
    for name in ("plots", "bench_demo", "lower_bound"):
        sys.modules.pop(name, None)


def sample(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def rects(svg: str, title_start: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    return [r for r in root.iter(f"{SVG}rect") if (r.findtext(f"{SVG}title") or "").startswith(title_start)]


def texts(svg: str) -> list[str]:
    return [t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text")]


def test_demo_plot_stacks_each_run_and_labels_it_against_the_lower_bound() -> None:
    from plots import demo_plot

    results = sample("demo-sample.json")
    svg = demo_plot(results)
    (rnd,) = results["rounds"]
    for scale in results["scales"]:
        run = rnd["demo"][scale]
        parts = rects(svg, f"scale {scale}:")
        assert len(parts) == 3  # deploy, Glue, overhead
        heights = [float(p.get("height")) for p in parts]
        # One scale for every bar: the stack is as tall as the run, the lower bound's bar as tall as it.
        (bound,) = rects(svg, "lower bound")
        assert sum(heights) / float(bound.get("height")) == pytest.approx(
            run["total_s"] / rnd["lower_bound_s"], rel=0.01
        )
        assert f"{run['total_s'] / rnd['lower_bound_s']:.2f}×" in texts(svg)
    assert f"bench/bench_demo.py, {results['date']}" in " ".join(texts(svg))


def test_bench_demo_results_are_what_the_plot_reads() -> None:
    import bench_demo
    from plots import demo_plot

    runs = {
        "1": [bench_demo.Run(16.0, 10.0, 1.5), bench_demo.Run(18.0, 11.0, 1.7)],
        "0.002": [bench_demo.Run(17.0, 10.5, 1.6), bench_demo.Run(19.0, 11.5, 1.8)],
    }
    results = bench_demo.results_of(["1", "0.002"], runs, [12.0])  # the second round's lower bound missing
    assert [r["lower_bound_s"] for r in results["rounds"]] == [12.0, None]
    svg = demo_plot(results)
    assert len(rects(svg, "lower bound")) == 1
    assert "1.33×" in texts(svg) and texts(svg).count("lb") == 1


def test_check_cycle_plot_draws_every_run_and_the_median_line() -> None:
    from plots import check_cycle_plot

    results = sample("check-cycle-sample.json")
    svg = check_cycle_plot([results])
    root = ET.fromstring(svg)
    circles = list(root.iter(f"{SVG}circle"))
    assert len(circles) == len(results["rows"])
    assert all(c.get("fill") == "#0972d3" for c in circles)
    lines = [p.get("points").split() for p in root.iter(f"{SVG}polyline")]
    sizes = sorted({row["n"] for row in results["rows"]})
    assert [len(points) for points in lines] == [len(sizes), len(sizes)]  # the latency floor, the medians
    # Log scale: a run k times as long sits log10(k) decades higher (a decade: from the 1 s to the 10 s tick).
    ticks = {t.text: float(t.get("y")) for t in root.iter(f"{SVG}text") if t.text in ("1 s", "10 s")}
    decade = ticks["1 s"] - ticks["10 s"]
    (fast, slow) = (results["rows"][0], results["rows"][-1])
    dy = float(circles[0].get("cy")) - float(circles[-1].get("cy"))
    assert dy == pytest.approx(math.log10(slow["seconds"] / fast["seconds"]) * decade, abs=0.2)


def test_check_cycle_files_merge_and_a_run_that_missed_jobs_is_red() -> None:
    from plots import check_cycle_plot

    first = sample("check-cycle-sample.json")
    second = copy.deepcopy(first)
    second["date"] = "2099-01-01"
    second["rows"] = [{**first["rows"][0], "all_checked": False}]
    svg = check_cycle_plot([first, second])
    fills = [c.get("fill") for c in ET.fromstring(svg).iter(f"{SVG}circle")]
    assert len(fills) == len(first["rows"]) + 1 and fills.count("#d13212") == 1
    assert f"{first['date']}, 2099-01-01" in " ".join(texts(svg))


def test_the_plot_script_redraws_from_saved_results(tmp_path: Path) -> None:
    from plots import main

    out = tmp_path / "cc.svg"
    assert main(["check-cycle", str(DATA / "check-cycle-sample.json"), str(out)]) == 0
    assert out.read_text().startswith("<svg ")
    assert main(["demo", str(DATA / "demo-sample.json"), str(tmp_path / "demo.svg")]) == 0
    ET.fromstring((tmp_path / "demo.svg").read_text())
