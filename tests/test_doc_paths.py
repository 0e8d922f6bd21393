"""Every path of this repository that README.md or docs/*.md names in backticks exists: a file that moves
takes its mentions with it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
TOP = (
    "cloudformation",
    "lambda",
    "localaws",
    "buildlib",
    "tests",
    "bench",
    "docs",
    "resources",
    "glue-scripts",
    "samples",
    "etltest",
)
# `path`, optionally followed by `:line` or `::test`; placeholders (<x>, *, …, {a,b}) are not paths.
MENTION = re.compile(r"`((?:" + "|".join(re.escape(t) for t in TOP) + r")/[^`\s:]*)(?:[:][^`]*)?`")
# A relative Markdown link: [text](docs/FAULTS.md#anchor), or from docs/: [text](DESIGN.md).
LINK = re.compile(r"\]\(([^)#\s:]+)(?:#[^)]*)?\)")
# Named by the docs, made by the user (never in the repository).
NOT_IN_THE_REPOSITORY = {
    "cloudformation/local-params.json": "written by `pynt localparams`, ignored by git",
    "glue-scripts/monthly_rollup.py": "the file docs/ADDING_A_JOB.md has the user write",
}


def mentions(doc: Path) -> list[str]:
    """Repository paths the document names, relative to the repository's root."""
    text = doc.read_text(encoding="utf-8")
    found = [path for path in MENTION.findall(text) if not any(mark in path for mark in "<>*…{}$")]
    for link in LINK.findall(text):
        if not link.startswith(("http", "mailto")):
            found.append(str((doc.parent / link).resolve().relative_to(REPO_ROOT)))
    return [path.rstrip(".,;)") for path in found]


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_every_path_a_doc_names_exists(doc: Path) -> None:
    missing = sorted(
        {p for p in mentions(doc) if p not in NOT_IN_THE_REPOSITORY and not (REPO_ROOT / p).exists()}
    )
    assert not missing, f"{doc.name} names paths that do not exist: {missing}"
