"""Deterministic Lambda zips: same sources -> byte-identical zip -> same CodeSha256, so redeploys are no-ops.

A runner's zip holds the `etlrunner` package (lambda/etlrunner/ as the folder etlrunner/) plus the files of
lambda/<runner>/ at the zip root, so the handler `<runner>.handler` imports both. ons3objectcreated's zip
holds its own folder and the same package (it sends the runners' nudge event).
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import threading
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from buildlib.errors import BuildError
from buildlib.project import CORE_USERS, RUNNER_CORE, Project, check_functions

FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip can hold
SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "tests", ".git"}
SKIP_SUFFIXES = {".pyc", ".pyo", ".zip"}
SKIP_NAMES = {".DS_Store", "Thumbs.db"}


def _files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part in SKIP_DIRS or part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and path.suffix not in SKIP_SUFFIXES and path.name not in SKIP_NAMES:
            yield path


def zip_entries(project: Project, function: str) -> list[tuple[str, Path]]:
    """(name in zip, source file) for the function, sorted by name; BuildError when sources are missing."""
    folder = project.lambda_dir / function
    if not folder.is_dir():
        raise BuildError(f"{project.rel(folder)} not found: the {function} function has no sources")
    module = folder / f"{function}.py"
    if not module.is_file():
        raise BuildError(f"{project.rel(module)} not found: the handler {function}.handler needs it")
    entries = {path.relative_to(folder).as_posix(): path for path in _files(folder)}
    if function in CORE_USERS:
        core = project.lambda_dir / RUNNER_CORE
        if not (core / "__init__.py").is_file():
            raise BuildError(
                f"{project.rel(core / '__init__.py')} not found: "
                f"the {function} zip includes the {RUNNER_CORE} package"
            )
        for path in _files(core):
            name = f"{RUNNER_CORE}/{path.relative_to(core).as_posix()}"
            if name in entries:
                raise BuildError(
                    f"{project.rel(path)} clashes with {project.rel(folder / name)} in {function}.zip"
                )
            entries[name] = path
    return sorted(entries.items())


def write_zip(target: Path, entries: Iterable[tuple[str, Path]]) -> None:
    """Write a zip whose bytes depend only on the names and contents (fixed dates, modes and order)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # A temporary name of this process and thread: two builds in one checkout (two demos, the e2e tests'
    # children) must not rename each other's half-written file; the replace itself is atomic.
    tmp = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
            for name, path in entries:
                info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.create_system = 3  # unix, so the mode below is honoured
                info.external_attr = 0o100644 << 16
                zf.writestr(info, path.read_bytes(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def package_function(project: Project, function: str) -> Path:
    check_functions([function])
    target = project.zip_path(function)
    entries = zip_entries(project, function)
    write_zip(target, entries)
    project.out(
        f"packaged {function}: {project.rel(target)} ({len(entries)} files, sha256 {code_sha256(target)})"
    )
    return target


def package_lambdas(project: Project, functions: Iterable[str] = ()) -> list[Path]:
    """Zip the given functions (all when none) into build/<fn>.zip."""
    return [package_function(project, fn) for fn in check_functions(functions)]


def code_sha256(path: Path) -> str:
    """The zip's hash as Lambda reports it in CodeSha256 (base64 of the SHA-256)."""
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


def require_zip(project: Project, function: str) -> Path:
    path = project.zip_path(function)
    if not path.is_file():
        raise BuildError(f"{project.rel(path)} not found: run `pynt packagelambda[{function}]` first")
    return path


def clean(project: Project) -> None:
    """Remove build/."""
    if project.build_dir.exists():
        shutil.rmtree(project.build_dir)
        project.out(f"removed {project.rel(project.build_dir)}/")
    else:
        project.out(f"nothing to clean: {project.rel(project.build_dir)}/ does not exist")
