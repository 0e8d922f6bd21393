"""The worked example of docs/ADDING_A_JOB.md (the README's "Adding a job to your workflow": a monthly roll-up
after the join), applied to a copy of the repository exactly as the page says: the template tests must stay
green there, and the Glue runner's allow list must take the new job in, with no other file or parameter value
touched.

The example's files are not in the repository; this test keeps the page's text working. (The whole demo
with the example's job, and `make test`, were run once by hand on such a copy.)
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cfn_test_helpers import REPO_ROOT, load_template

EXAMPLE_PAGE = REPO_ROOT / "docs" / "ADDING_A_JOB.md"
JOIN_STATE = "          Join Marketing And Sales Data:\n"
IGNORED = shutil.ignore_patterns(".git", ".venv", "build", "__pycache__", ".pytest_cache", ".ruff_cache")


def worked_example() -> tuple[str, str, str]:
    """The script, the job's YAML and the state's YAML, as the page gives them."""
    # The Glue job's example; the page's Athena step comes after it.
    page = EXAMPLE_PAGE.read_text(encoding="utf-8").split("\n## An Athena query step", 1)[0]
    (script,) = re.findall(r"```python\n(.*?)```", page, re.DOTALL)
    job, state = re.findall(r"```yaml\n(.*?)```", page, re.DOTALL)
    return script, job, state


def join_state(text: str) -> tuple[int, int]:
    """Where the main workflow's join state is in step-functions-resources.yaml: (start, end)."""
    start = text.index(JOIN_STATE)
    following = re.compile(r"^ {10}\S", re.MULTILINE).search(text, start + len(JOIN_STATE))
    return start, following.start() if following else len(text)


def applies_here() -> str | None:
    """Why the example cannot be applied to this repository (it applies to the sample as shipped), or None."""
    text = (REPO_ROOT / "cloudformation" / "step-functions-resources.yaml").read_text(encoding="utf-8")
    if JOIN_STATE not in text:
        return "the sample's join state is gone"
    start, end = join_state(text)
    if not text[start:end].endswith("            End: true\n"):
        return "the workflow no longer ends with the sample's join (a job was added after it)"
    if "Name: MonthlyRollup" in (REPO_ROOT / "cloudformation" / "glue-resources.yaml").read_text():
        return "the example's job is there already"
    return None


def apply_example(root: Path) -> None:
    """The page's three steps: the script, the job after the join's job, the join's End → Next and the
    state after the join."""
    script, job, state = worked_example()
    (root / "glue-scripts" / "monthly_rollup.py").write_text(script, encoding="utf-8")
    glue = root / "cloudformation" / "glue-resources.yaml"
    text = glue.read_text(encoding="utf-8")
    glue.write_text(text.replace("\nOutputs:\n", f"\n{job}\nOutputs:\n", 1), encoding="utf-8")
    sfn = root / "cloudformation" / "step-functions-resources.yaml"
    text = sfn.read_text(encoding="utf-8")
    start, end = join_state(text)
    join = text[start:end].removesuffix("            End: true\n") + "            Next: Roll Up Monthly\n"
    sfn.write_text(text[:start] + join + state + text[end:], encoding="utf-8")


def test_the_worked_example_is_three_files_and_no_parameter_value(tmp_path):
    if reason := applies_here():
        pytest.skip(f"the worked example applies to the sample as shipped; here {reason}")
    copy = tmp_path / "repo"
    shutil.copytree(REPO_ROOT, copy, ignore=IGNORED)
    params_before = {p.name: p.read_text() for p in (copy / "cloudformation").glob("*-params.json")}
    apply_example(copy)
    changed = [
        path.name
        for path in sorted((copy / "cloudformation").iterdir())
        if path.read_bytes() != (REPO_ROOT / "cloudformation" / path.name).read_bytes()
    ]
    assert changed == ["glue-resources.yaml", "step-functions-resources.yaml"]
    assert {p.name: p.read_text() for p in (copy / "cloudformation").glob("*-params.json")} == params_before

    tests = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/cloudformation",
            "-k",
            "not worked_example",
        ],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    allowed = subprocess.run(
        [
            sys.executable,
            "-c",
            "from buildlib import load_project; "
            "print(load_project('.').params('gluerunner-lambda')['AllowedGlueJobNames'])",
        ],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert allowed.stdout.strip().split(",")[-1] == "MonthlyRollup", allowed.stdout + allowed.stderr


def test_the_pages_athena_step_is_retried_and_caught_as_the_templates_own():
    """docs/ADDING_A_JOB.md's Athena query step: the Task settings, Retry and Catch of "Execute Athena Query",
    on the Athena runner's activity, with the keys the Athena runner reads."""
    page = EXAMPLE_PAGE.read_text(encoding="utf-8").split("\n## An Athena query step", 1)[1]
    (block,) = re.findall(r"```yaml\n(.*?)```", page, re.DOTALL)
    ((name, step),) = yaml.safe_load(block).items()
    machines = load_template("step-functions-resources")["Resources"]
    (template_step,) = [
        states["Execute Athena Query"]
        for resource in machines.values()
        if resource["Type"] == "AWS::StepFunctions::StateMachine"
        for states in [resource["Properties"]["Definition"]["States"]]
        if "Execute Athena Query" in states
    ]
    for key in ("Type", "Resource", "HeartbeatSeconds", "TimeoutSeconds", "Retry", "Catch"):
        assert step[key] == template_step[key], (name, key)
    assert {"AthenaQueryString", "AthenaDatabase", "AthenaResultOutputLocation"} <= set(step["Parameters"])
