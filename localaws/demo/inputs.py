"""Checks a user's CSV files before the demo deploys anything, so bad input fails fast and clearly."""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2] / "samples"

SALES_SAMPLE = "SalesPipeline_QuickSightSample.csv"
MARKETING_SAMPLE = "MarketingData_QuickSightSample.csv"


def sample_header(name: str) -> list[str]:
    """The columns a user's file must have: those of the committed sample it replaces."""
    with (SAMPLES / name).open(newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle))


class DemoInputError(ValueError):
    """A demo input (file or output folder) that cannot be used; the message says which and why."""


# What the demo writes in its output folder at the end of a run (bench/ reads it).
DEMO_SUMMARY = "summary.json"
# The demo's own mark in an output folder it made: only a folder holding this file, with this text, is ever
# emptied. A summary.json proved nothing: a user's folder may hold one too.
OUTPUT_MARKER = ".etl-demo-output"
OUTPUT_MARKER_TEXT = "Made by `pynt demo`, which empties this folder at the start of every run.\n"


def _made_by_demo(folder: Path) -> bool:
    marker = folder / OUTPUT_MARKER
    try:
        return (
            marker.is_file() and not marker.is_symlink() and marker.read_text("utf-8") == OUTPUT_MARKER_TEXT
        )
    except (OSError, UnicodeDecodeError):
        return False


def _empty(folder: Path) -> None:
    """Remove what is in `folder` but its marker; links are removed, never followed to their targets."""
    for entry in folder.iterdir():
        if entry.name == OUTPUT_MARKER:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)  # rmtree removes the links inside it without following them
        else:
            entry.unlink()


def prepare_output_dir(folder: Path) -> Path:
    """An empty `folder` for this run's outputs, marked as the demo's. A folder the demo made (it holds the
    marker) is emptied, so a failed run never sits beside an older run's files; a new or empty folder gets
    the marker; anything else is refused before anything is deployed, so nothing of the user's is deleted."""
    if folder.is_symlink():
        raise DemoInputError(
            f"output folder {folder} is a symbolic link: name a real folder (the demo empties its output "
            "folder and does not write or delete through a link)"
        )
    if folder.exists() and not folder.is_dir():
        raise DemoInputError(f"output {folder} is a file: name a folder for the demo's outputs")
    try:
        if folder.is_dir() and _made_by_demo(folder):
            _empty(folder)
            return folder
        if folder.is_dir() and any(folder.iterdir()):
            raise DemoInputError(
                f"output folder {folder} is not empty and was not made by the demo (no {OUTPUT_MARKER}): "
                "the demo empties its output folder at every run, so name a new or empty folder "
                "(an older demo's folder without the mark: delete it yourself)"
            )
        folder.mkdir(parents=True, exist_ok=True)
        (folder / OUTPUT_MARKER).write_text(OUTPUT_MARKER_TEXT, encoding="utf-8")
    except OSError as exc:
        raise DemoInputError(f"cannot prepare the output folder {folder}: {exc.strerror or exc}") from exc
    return folder


@dataclass(frozen=True)
class DatasetFile:
    """One input file and where the workflow expects it in the data bucket."""

    path: Path
    prefix: str  # the catalog table's folder in the data bucket
    object_name: str  # the name the wait-for-data activity is named after

    @property
    def key(self) -> str:
        return f"{self.prefix}/{self.object_name}"


def _normalise(name: str) -> str:
    return " ".join(name.split()).lower()


def header_difference(header: list[str], expected: list[str]) -> str:
    """The first column that differs from the expected header (by position), said in one line."""
    for position, (got, want) in enumerate(zip(header, expected, strict=False), start=1):
        if _normalise(got) != _normalise(want):
            return f"column {position} is {got!r}, expected {want!r}"
    if len(header) < len(expected):
        missing = ", ".join(expected[len(header) :])
        return f"{len(header)} columns, expected {len(expected)}: missing {missing}"
    extra = ", ".join(header[len(expected) :])
    return f"{len(header)} columns, expected {len(expected)}: extra {extra}"


def check_dataset(path: Path, expected_header: list[str], what: str) -> int:
    """Return the number of data rows; raise DemoInputError when the file cannot feed the workflow."""
    if not path.is_file():
        raise DemoInputError(f"{what} file {path} does not exist")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise DemoInputError(
                f"{what} file {path} is empty; it needs the header line {','.join(expected_header)}"
            )
        # Names are compared as the catalog sees them: case and spacing do not matter, order and count do.
        if [_normalise(h) for h in header] != [_normalise(h) for h in expected_header]:
            raise DemoInputError(
                f"{what} file {path} has a wrong header: {header_difference(header, expected_header)} "
                f"(the header must be {','.join(expected_header)})"
            )
        rows = 0
        for line_number, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(expected_header):
                fields = f"{len(row)} fields, expected {len(expected_header)}"
                raise DemoInputError(f"{what} file {path}, line {line_number}: {fields}")
            rows += 1
    if rows == 0:
        raise DemoInputError(f"{what} file {path} has a header but no data rows")
    return rows


def demo_datasets(sales: str | Path | None = None, marketing: str | Path | None = None) -> list[DatasetFile]:
    """The two files the demo uploads: the samples, or the user's own files of the same schema."""
    for what, given in (("sales", sales), ("marketing", marketing)):
        if given is not None and not str(given).strip():
            # An empty `sales=` once ran the sample data and exited 0, as if the user's file had been used.
            example = f"demo[{what}=path/to/{what}.csv]"
            raise DemoInputError(f"{what}= names no file: give a CSV file, e.g. {example}")
    sales_file = DatasetFile(
        Path(sales) if sales else SAMPLES / SALES_SAMPLE,
        "sales",
        SALES_SAMPLE,
    )
    marketing_file = DatasetFile(
        Path(marketing) if marketing else SAMPLES / MARKETING_SAMPLE,
        "marketing",
        MARKETING_SAMPLE,
    )
    check_dataset(sales_file.path, sample_header(SALES_SAMPLE), "sales")
    check_dataset(marketing_file.path, sample_header(MARKETING_SAMPLE), "marketing")
    return [sales_file, marketing_file]
