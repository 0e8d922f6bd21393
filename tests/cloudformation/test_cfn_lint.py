"""cfn-lint must report nothing for any template (errors, warnings and informational findings)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cfn_test_helpers import CFN_DIR, STACKS, load_template, template_path
from cfnlint.api import lint_file
from cfnlint.config import ManualArgs


def test_exactly_the_four_templates_exist():
    assert sorted(p.stem for p in CFN_DIR.glob("*.yaml")) == sorted(STACKS)
    # local-params.json is `pynt localparams`'s untracked file of local values, not a stack's.
    params = [p.name for p in CFN_DIR.glob("*-params.json") if p.name != "local-params.json"]
    assert sorted(params) == sorted(f"{s}-params.json" for s in STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_cfn_lint_reports_no_matches(stack):
    # Informational checks (I...) included: stricter than the CLI default, which prints E and W only.
    matches = lint_file(template_path(stack), ManualArgs(include_checks=["I"]))
    assert [str(m) for m in matches] == []


def test_cfn_lint_cli_prints_nothing():
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    if not cfn_lint.exists():
        pytest.skip("cfn-lint entry point not next to the interpreter")
    result = subprocess.run(
        [str(cfn_lint), *(str(template_path(s)) for s in STACKS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


@pytest.mark.parametrize("stack", STACKS)
def test_template_has_description(stack):
    template = load_template(stack)
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"
    assert len(template.get("Description", "")) > 40
