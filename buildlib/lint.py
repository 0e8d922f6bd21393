"""Static checks: cfn-lint on the templates and ruff on the Python code."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from buildlib.errors import BuildError
from buildlib.project import Project


def find_tool(name: str) -> str:
    """The tool next to this interpreter (the venv's), else on PATH."""
    local = Path(sys.executable).parent / name
    if local.is_file():
        return str(local)
    found = shutil.which(name)
    if not found:
        raise BuildError(f"{name} not found: install the dev tools with pip install -r requirements-dev.txt")
    return found


def lint(project: Project) -> None:
    """cfn-lint cloudformation/*.yaml, then ruff check . ; BuildError naming each tool that found problems."""
    failed = []
    templates = sorted(project.cloudformation_dir.glob("*.yaml"))
    if templates:
        cmd = [find_tool("cfn-lint"), *[project.rel(t) for t in templates]]
        project.out("$ " + " ".join(["cfn-lint", *cmd[1:]]))
        if subprocess.run(cmd, cwd=project.root).returncode != 0:
            failed.append("cfn-lint")
    else:
        project.out(f"no {project.rel(project.cloudformation_dir)}/*.yaml to lint")
    cmd = [find_tool("ruff"), "check", "."]
    project.out("$ ruff check .")
    if subprocess.run(cmd, cwd=project.root).returncode != 0:
        failed.append("ruff")
    if failed:
        raise BuildError(f"lint failed: {' and '.join(failed)} reported problems (listed above)")
    project.out("lint: no problems")
