"""The Glue jobs that cloudformation/glue-resources.yaml declares: the Glue runner's default allow list.

The job names live in one place, the Glue stack's template. gluerunner-lambda's `AllowedGlueJobNames` left
empty in its params file means "every job glue-resources.yaml declares": build.py fills the list in when it
creates or updates the stack, so a new job is allowed (and its IAM grant and job-end event rule follow) by
adding it to that template alone.

Not a CloudFormation Export/Fn::ImportValue: CloudFormation refuses to change an exported value while
another stack imports it, so adding a job would make every later update of glue-resources fail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from buildlib.errors import BuildError

GLUE_JOB_TYPE = "AWS::Glue::Job"


class _TemplateLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (`!Ref`, `!Sub`, …) read as plain values: only the shape of the
    resources and their literal names matter here."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {f"!{suffix}": loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {f"!{suffix}": loader.construct_sequence(node, deep=True)}
    return {f"!{suffix}": loader.construct_mapping(node, deep=True)}


_TemplateLoader.add_multi_constructor("!", _any_tag)


def declared_glue_jobs(template: Path, where: str) -> list[str]:
    """The `Name` of every `AWS::Glue::Job` of the template, in template order. ``where``: the template's
    path as the user knows it, for the messages."""
    try:
        body = yaml.load(template.read_text(encoding="utf-8"), Loader=_TemplateLoader)
    except FileNotFoundError as exc:
        raise BuildError(f"{where} not found: it declares the Glue jobs the Glue runner may start") from exc
    except (OSError, yaml.YAMLError) as exc:
        raise BuildError(f"{where} cannot be read as YAML: {exc}") from exc
    resources = (body or {}).get("Resources") or {}
    names = []
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict) or resource.get("Type") != GLUE_JOB_TYPE:
            continue
        name = (resource.get("Properties") or {}).get("Name")
        if not isinstance(name, str) or not name:
            raise BuildError(
                f"{where}: the Glue job {logical_id} needs a plain Name (e.g. `Name: MyJob`) for the Glue "
                "runner's allow list, or set AllowedGlueJobNames in "
                "cloudformation/gluerunner-lambda-params.json"
            )
        names.append(name)
    if not names:
        raise BuildError(
            f"{where} declares no {GLUE_JOB_TYPE}: set AllowedGlueJobNames in "
            "cloudformation/gluerunner-lambda-params.json"
        )
    return names
