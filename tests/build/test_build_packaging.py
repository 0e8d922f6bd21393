"""Lambda zips: layout (handler at the root, etlrunner package beside it) and byte-for-byte determinism."""

from __future__ import annotations

import os
import shutil
import zipfile

import pytest
from build_support import REPO

from buildlib import BuildError, load_project
from buildlib.packaging import clean, code_sha256, package_lambdas, require_zip


def _names(path):
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def test_runner_zip_has_core_package_and_runner_files_at_root(repo, lines):
    project = load_project(repo, out=lines.append)
    (path,) = package_lambdas(project, ["gluerunner"])
    assert path == repo / "build" / "gluerunner.zip"
    assert _names(path) == [
        "etlrunner/__init__.py",
        "etlrunner/engine.py",
        "gluerunner-config.json",
        "gluerunner.py",
    ]
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.external_attr >> 16 == 0o100644
    assert lines and lines[0].startswith("packaged gluerunner: build/gluerunner.zip (4 files")


def test_ons3objectcreated_zip_is_its_folder_and_the_core_package(repo):
    """It sends the runners' nudge event, defined once in the core."""
    (path,) = package_lambdas(load_project(repo), ["ons3objectcreated"])
    assert _names(path) == ["etlrunner/__init__.py", "etlrunner/engine.py", "ons3objectcreated.py"]


def test_all_functions_when_none_given(repo):
    paths = package_lambdas(load_project(repo))
    assert sorted(p.name for p in paths) == ["athenarunner.zip", "gluerunner.zip", "ons3objectcreated.zip"]


def test_zips_are_deterministic(repo):
    project = load_project(repo)
    first = package_lambdas(project, ["athenarunner"])[0].read_bytes()
    for path in (repo / "lambda").rglob("*.py"):
        os.utime(path, (1_700_000_000, 1_700_000_000))  # a fresh checkout has other mtimes
    second = package_lambdas(project, ["athenarunner"])[0].read_bytes()
    assert first == second
    (repo / "lambda" / "etlrunner" / "engine.py").write_text("changed = True\n")
    assert package_lambdas(project, ["athenarunner"])[0].read_bytes() != first


def test_code_sha256_is_lambdas_format(repo):
    path = package_lambdas(load_project(repo), ["gluerunner"])[0]
    digest = code_sha256(path)
    assert len(digest) == 44 and digest.endswith("=")


def test_missing_handler_module(repo):
    (repo / "lambda" / "athenarunner" / "athenarunner.py").unlink()
    with pytest.raises(
        BuildError,
        match=r"lambda/athenarunner/athenarunner.py not found: the handler "
        r"athenarunner.handler needs it",
    ):
        package_lambdas(load_project(repo), ["athenarunner"])


def test_missing_zip_says_to_package(repo):
    with pytest.raises(BuildError) as err:
        require_zip(load_project(repo), "gluerunner")
    assert str(err.value) == "build/gluerunner.zip not found: run `pynt packagelambda[gluerunner]` first"


def test_unknown_function(repo):
    with pytest.raises(BuildError, match="unknown function 'nope': valid functions are gluerunner"):
        package_lambdas(load_project(repo), ["nope"])


def test_clean_removes_build(repo, lines):
    project = load_project(repo, out=lines.append)
    package_lambdas(project, ["gluerunner"])
    clean(project)
    assert not (repo / "build").exists()
    clean(project)
    assert lines[-1] == "nothing to clean: build/ does not exist"


@pytest.mark.skipif(
    not all(
        (REPO / "lambda" / name).is_dir()
        for name in ("etlrunner", "gluerunner", "athenarunner", "ons3objectcreated")
    ),
    reason="the repository's Lambda sources are not there yet",
)
def test_real_lambda_sources_package(tmp_path):
    shutil.copytree(REPO / "lambda", tmp_path / "lambda", ignore=shutil.ignore_patterns("__pycache__"))
    project = load_project(tmp_path)
    for path in package_lambdas(project):
        names = _names(path)
        fn = path.stem
        assert f"{fn}.py" in names
        assert not any(n.endswith(".pyc") or "__pycache__" in n for n in names)
        assert "etlrunner/__init__.py" in names
        if fn != "ons3objectcreated":
            assert f"{fn}-config.json" in names


def test_concurrent_builds_of_one_zip_do_not_rename_each_others_file(tmp_path):
    """Two builds in one checkout (the e2e tests' children deploy at once) each write their own temporary
    file; both end with the same complete zip, and no temporary file is left."""
    import threading

    from buildlib.packaging import write_zip

    source = tmp_path / "handler.py"
    source.write_text("def handler(event, context):\n    return 1\n" * 2000)
    target = tmp_path / "build" / "fn.zip"
    errors: list[BaseException] = []

    def build() -> None:
        try:
            for _ in range(20):
                write_zip(target, [("handler.py", source)])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _names(target) == ["handler.py"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["fn.zip"]
