"""`pynt pictures`: render the pictures kept in the repository from their sources."""

from __future__ import annotations

from pathlib import Path

from buildlib.pictures.architecture import load_diagram
from buildlib.pictures.diagram_svg import render

ARCHITECTURE_SVG = Path("resources") / "architecture.svg"
ARCHITECTURE_TITLE = "ETL orchestration with Step Functions activities and runner Lambdas"
ARCHITECTURE_SUBTITLE = (
    "Generated from the four templates in cloudformation/ and resources/architecture.toml by `pynt pictures`."
)


def architecture_svg(root: Path) -> str:
    """resources/architecture.svg as a fresh render of the templates at `root`."""
    return render(load_diagram(root), ARCHITECTURE_TITLE, ARCHITECTURE_SUBTITLE)


def write_pictures(root: Path) -> list[Path]:
    """Re-render every generated picture of the repository; returns the files written."""
    target = root / ARCHITECTURE_SVG
    target.write_text(architecture_svg(root))
    return [target]
