"""Bad demo input fails before anything is deployed, with a message naming the file (no endpoint)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from e2e_support import PYNT, run_child

import localaws.demo
from localaws.cli import CommandError, demo_command
from localaws.demo.inputs import (
    MARKETING_SAMPLE,
    OUTPUT_MARKER,
    OUTPUT_MARKER_TEXT,
    SALES_SAMPLE,
    SAMPLES,
    DemoInputError,
    demo_datasets,
    prepare_output_dir,
    sample_header,
)


@pytest.fixture
def no_deploy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make any attempt to start an endpoint and deploy a recorded failure instead."""
    attempts: list[str] = []

    @contextlib.contextmanager
    def refuse(*args, **kwargs):
        attempts.append("deployed_environment")
        raise AssertionError("the demo tried to deploy despite bad input")
        yield  # pragma: no cover

    monkeypatch.setattr(localaws.demo, "deployed_environment", refuse)
    return attempts


def _sales_with_wrong_header(folder: Path) -> Path:
    bad = folder / "my-sales.csv"
    bad.write_text("Day,Seller,Revenue\n1/1/2013,Ann,100\n", encoding="utf-8")
    return bad


def test_demo_datasets_rejects_a_wrong_header_naming_the_file(tmp_path: Path) -> None:
    bad = _sales_with_wrong_header(tmp_path)
    with pytest.raises(DemoInputError) as raised:
        demo_datasets(sales=bad)
    message = str(raised.value)
    assert str(bad) in message
    assert "has a wrong header: column 1 is 'Day', expected 'Date'" in message  # the column that differs
    assert "Forecasted Monthly Revenue" in message  # the expected columns are spelled out


@pytest.mark.parametrize(
    ("header", "difference"),
    [
        (",".join([*sample_header(SALES_SAMPLE), "Extra"]), "13 columns, expected 12: extra Extra"),
        ("Date,Salesperson", "2 columns, expected 12: missing Lead Name, Segment"),
    ],
)  # fmt: skip
def test_a_wrong_header_names_what_differs(tmp_path: Path, header: str, difference: str) -> None:
    expected = sample_header(SALES_SAMPLE)
    assert len(expected) == 12, expected
    bad = tmp_path / "sales.csv"
    bad.write_text(f"{header}\n" + ",".join("1" for _ in header.split(",")) + "\n", encoding="utf-8")
    with pytest.raises(DemoInputError, match=difference):
        demo_datasets(sales=bad)


def test_demo_command_with_a_wrong_sales_header_fails_before_deploying(tmp_path: Path, no_deploy) -> None:
    bad = _sales_with_wrong_header(tmp_path)
    with pytest.raises(CommandError) as raised:
        demo_command(sales=str(bad), output=str(tmp_path / "out"))
    assert str(bad) in str(raised.value)
    assert no_deploy == []
    assert not (tmp_path / "out").exists(), "nothing is written for input that was refused"


def test_demo_command_with_a_missing_marketing_file_fails_before_deploying(tmp_path: Path, no_deploy) -> None:
    missing = tmp_path / "nowhere.csv"
    with pytest.raises(CommandError, match="does not exist") as raised:
        demo_command(marketing=str(missing), output=str(tmp_path / "out"))
    assert str(missing) in str(raised.value)
    assert no_deploy == []


def test_a_row_with_the_wrong_number_of_fields_is_refused_with_its_line(tmp_path: Path) -> None:
    header = ",".join(sample_header(MARKETING_SAMPLE))
    bad = tmp_path / "marketing.csv"
    bad.write_text(f"{header}\n1/1/2013,1,2\n", encoding="utf-8")
    with pytest.raises(DemoInputError, match=r"line 2: 3 fields") as raised:
        demo_datasets(marketing=bad)
    assert str(bad) in str(raised.value)


def test_the_samples_pass_the_check() -> None:
    datasets = demo_datasets()
    assert [d.path.parent for d in datasets] == [SAMPLES, SAMPLES]
    assert [d.key for d in datasets] == [
        "sales/SalesPipeline_QuickSightSample.csv",
        "marketing/MarketingData_QuickSightSample.csv",
    ]


def test_pynt_demo_with_a_wrong_header_exits_1_before_deploying(tmp_path: Path) -> None:
    """The README command: one `error:` line naming the file, exit code 1, nothing deployed (fast)."""
    bad = _sales_with_wrong_header(tmp_path)
    child = run_child([PYNT, f"demo[sales={bad},output={tmp_path / 'out'}]"], timeout_s=120)
    assert child.returncode == 1, child.tail()
    assert child.stderr.strip().splitlines()[-1].startswith(f"error: sales file {bad} has a wrong header")
    assert "Deploying" not in child.stdout and "Local AWS endpoint" not in child.stdout, child.tail()


def test_an_output_folder_holding_other_files_is_refused_and_left_alone(tmp_path: Path, no_deploy) -> None:
    folder = tmp_path / "my-documents"
    folder.mkdir()
    (folder / "thesis.txt").write_text("precious", encoding="utf-8")
    with pytest.raises(CommandError, match="is not empty and was not made by the demo") as raised:
        demo_command(output=str(folder))
    assert str(folder) in str(raised.value)
    assert no_deploy == []
    assert [p.name for p in folder.iterdir()] == ["thesis.txt"]
    assert (folder / "thesis.txt").read_text(encoding="utf-8") == "precious"


def _tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` (links not followed) and its text: to show a folder was left alone."""
    return {
        str(p.relative_to(folder)): ("-> link" if p.is_symlink() else p.read_text(encoding="utf-8"))
        for p in sorted(folder.rglob("*"))
        if p.is_symlink() or p.is_file()
    }


def test_a_users_folder_holding_a_summary_json_is_refused_and_untouched(tmp_path: Path, no_deploy) -> None:
    """A summary.json of the user's own once made the demo empty the whole folder."""
    folder = tmp_path / "thesis"
    (folder / "sub").mkdir(parents=True)
    (folder / "summary.json").write_text('{"chapter": 3}', encoding="utf-8")
    (folder / "thesis.docx").write_text("precious", encoding="utf-8")
    (folder / "sub" / "data.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    before = _tree(folder)
    with pytest.raises(CommandError, match="is not empty and was not made by the demo") as raised:
        demo_command(output=str(folder))
    assert str(folder) in str(raised.value) and "\n" not in str(raised.value)
    assert no_deploy == []
    assert _tree(folder) == before


def test_a_new_folder_gets_the_demos_marker(tmp_path: Path) -> None:
    new = tmp_path / "new" / "out"
    assert prepare_output_dir(new) == new
    assert [p.name for p in new.iterdir()] == [OUTPUT_MARKER]
    assert (new / OUTPUT_MARKER).read_text(encoding="utf-8") == OUTPUT_MARKER_TEXT


def test_a_folder_the_demo_made_earlier_is_emptied_and_reused(tmp_path: Path) -> None:
    folder = prepare_output_dir(tmp_path / "demo-output")
    (folder / "marketing-and-sales").mkdir()
    (folder / "marketing-and-sales" / "part-0.parquet").write_bytes(b"PAR1")
    (folder / "summary.json").write_text("{}", encoding="utf-8")
    assert prepare_output_dir(folder) == folder
    assert [p.name for p in folder.iterdir()] == [OUTPUT_MARKER]


def test_a_marker_with_other_text_does_not_make_a_folder_the_demos(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / OUTPUT_MARKER).write_text("my own notes", encoding="utf-8")
    (folder / "notes.txt").write_text("precious", encoding="utf-8")
    with pytest.raises(DemoInputError, match="was not made by the demo"):
        prepare_output_dir(folder)
    assert _tree(folder) == {OUTPUT_MARKER: "my own notes", "notes.txt": "precious"}


def test_links_in_the_demos_folder_are_removed_without_touching_their_targets(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "docs").mkdir(parents=True)
    (outside / "docs" / "thesis.docx").write_text("precious", encoding="utf-8")
    (outside / "notes.txt").write_text("keep", encoding="utf-8")
    before = _tree(outside)
    folder = prepare_output_dir(tmp_path / "demo-output")
    (folder / "sub").mkdir()
    (folder / "to-dir").symlink_to(outside / "docs", target_is_directory=True)
    (folder / "to-file").symlink_to(outside / "notes.txt")
    (folder / "sub" / "deep-to-dir").symlink_to(outside, target_is_directory=True)
    (folder / "dangling").symlink_to(tmp_path / "nowhere")
    prepare_output_dir(folder)
    assert [p.name for p in folder.iterdir()] == [OUTPUT_MARKER]
    assert _tree(outside) == before


def test_a_symlinked_output_folder_is_refused_in_one_line(tmp_path: Path, no_deploy) -> None:
    target = prepare_output_dir(tmp_path / "real")  # even a folder of the demo's own, behind a link
    (target / "summary.json").write_text("{}", encoding="utf-8")
    link = tmp_path / "link"
    link.symlink_to(target, target_is_directory=True)
    with pytest.raises(CommandError, match="is a symbolic link") as raised:
        demo_command(output=str(link))
    assert str(link) in str(raised.value) and "\n" not in str(raised.value)
    assert no_deploy == []
    assert sorted(p.name for p in target.iterdir()) == [OUTPUT_MARKER, "summary.json"]


def test_pynt_demo_with_a_symlinked_output_folder_exits_1_with_one_line(tmp_path: Path) -> None:
    target = tmp_path / "real"
    target.mkdir()
    (target / "summary.json").write_text("{}", encoding="utf-8")  # once: rmtree on the link, a traceback
    link = tmp_path / "link"
    link.symlink_to(target, target_is_directory=True)
    child = run_child([PYNT, f"demo[output={link}]"], timeout_s=120)
    assert child.returncode == 1, child.tail()
    assert "Traceback" not in child.stderr + child.stdout, child.tail()
    errors = [line for line in child.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: output folder {link} is a symbolic link")
    assert (target / "summary.json").is_file()


def test_an_output_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("x", encoding="utf-8")
    with pytest.raises(DemoInputError, match="is a file"):
        prepare_output_dir(path)
    assert path.read_text(encoding="utf-8") == "x"


@pytest.mark.parametrize("which", ["sales", "marketing"])
def test_an_empty_file_argument_is_refused_not_replaced_by_the_sample(which: str) -> None:
    """`demo[sales=]` once ran the sample data and exited 0."""
    expected = rf"^{which}= names no file: .*demo\[{which}=path/to/{which}.csv\]"
    with pytest.raises(DemoInputError, match=expected):
        demo_datasets(**{which: ""})
