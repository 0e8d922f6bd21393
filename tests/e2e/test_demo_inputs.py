"""Bad demo input fails before anything is deployed, with a message naming the file (no endpoint)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from e2e_support import PYNT, run_child

import localaws.demo
from localaws.cli import CommandError, demo_command
from localaws.demo_inputs import (
    MARKETING_SAMPLE,
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
    assert "header" in message and "Day,Seller,Revenue" in message
    assert "Forecasted Monthly Revenue" in message  # the expected columns are spelled out


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
    assert child.stderr.strip().splitlines()[-1].startswith(f"error: sales file {bad} has the header")
    assert "Deploying" not in child.stdout and "Local AWS endpoint" not in child.stdout, child.tail()


def test_an_output_folder_holding_other_files_is_refused_and_left_alone(tmp_path: Path, no_deploy) -> None:
    folder = tmp_path / "my-documents"
    folder.mkdir()
    (folder / "thesis.txt").write_text("precious", encoding="utf-8")
    with pytest.raises(CommandError, match="is not empty and holds no summary.json") as raised:
        demo_command(output=str(folder))
    assert str(folder) in str(raised.value)
    assert no_deploy == []
    assert [p.name for p in folder.iterdir()] == ["thesis.txt"]
    assert (folder / "thesis.txt").read_text(encoding="utf-8") == "precious"


def test_an_earlier_demo_output_folder_is_emptied_for_the_new_run(tmp_path: Path) -> None:
    folder = tmp_path / "demo-output"
    (folder / "marketing-and-sales").mkdir(parents=True)
    (folder / "summary.json").write_text("{}", encoding="utf-8")
    (folder / "marketing-and-sales.csv").write_text("date\n", encoding="utf-8")
    assert prepare_output_dir(folder) == folder
    assert folder.is_dir() and not any(folder.iterdir())
    new = tmp_path / "new" / "out"
    assert prepare_output_dir(new).is_dir()


def test_an_output_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("x", encoding="utf-8")
    with pytest.raises(DemoInputError, match="is a file"):
        prepare_output_dir(path)
    assert path.read_text(encoding="utf-8") == "x"
