"""The pins of requirements*.txt: exact, and boto3 beside the botocore it was released with."""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([0-9][^;\s]*)")


def pins() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted(REPO_ROOT.glob("requirements*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if not line or line.startswith("-r"):
                continue
            match = PIN.match(line)
            assert match, f"{path.name}: {line!r} is not pinned with =="
            found[match.group(1).lower()] = match.group(3)
    return found


def test_every_dependency_is_pinned_exactly() -> None:
    assert {"boto3", "botocore", "moto", "pynt", "pytest", "cfn-lint"} <= set(pins())


def test_boto3_and_botocore_are_pinned_to_the_same_release() -> None:
    # Since 2023 boto3 and botocore are released together under the same version number; a boto3 pinned
    # beside another botocore is a combination nobody tested.
    found = pins()
    assert found["boto3"] == found["botocore"], found
