"""Shared helpers for the CloudFormation template tests: loading, a small intrinsic resolver, IAM walking."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

REPO_ROOT = Path(__file__).resolve().parents[2]
CFN_DIR = REPO_ROOT / "cloudformation"

STACKS = ("step-functions-resources", "glue-resources", "gluerunner-lambda", "athenarunner-lambda")

NO_DEFAULT = "<NO-DEFAULT>"

# Stand-in values for pseudo parameters when resolving intrinsics.
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "test-stack",
    "AWS::URLSuffix": "amazonaws.com",
}

# Values for the parameters that have no default (the <NO-DEFAULT> ones).
TEST_PARAMETER_VALUES = {
    "SourceS3BucketName": "my-lambda-packages",
    "SourceDataBucketName": "my-etl-data",
    "S3ETLScriptPath": "s3://my-glue-scripts/etl/scripts",
    "S3ETLOutputPath": "s3://my-etl-output/etl/output",
}


def template_path(stack: str) -> Path:
    return CFN_DIR / f"{stack}.yaml"


def params_path(stack: str) -> Path:
    return CFN_DIR / f"{stack}-params.json"


@cache
def _load(stack: str) -> dict:
    template, matches = decode(str(template_path(stack)))
    assert not matches, f"{stack}.yaml does not decode: {matches}"
    assert template is not None
    return template


def load_template(stack: str) -> dict:
    """The decoded template (intrinsics as {"Ref": ...}, {"Fn::Sub": ...}); cached, do not mutate."""
    return _load(stack)


def load_params(stack: str) -> list[dict[str, str]]:
    return json.loads(params_path(stack).read_text())


def resources_of_type(template: dict, resource_type: str) -> dict[str, dict]:
    return {
        name: res for name, res in template.get("Resources", {}).items() if res.get("Type") == resource_type
    }


def parameter_values(template: dict, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Every parameter's value: its default, else the test value; ``overrides`` win."""
    values: dict[str, str] = {}
    for name, spec in template.get("Parameters", {}).items():
        if "Default" in spec:
            values[name] = str(spec["Default"])
        else:
            values[name] = TEST_PARAMETER_VALUES[name]
    values.update(overrides or {})
    return values


RefHook = Callable[[str, str | None], Any]


# The state machines' log delivery to CloudWatch Logs (vended logs): these actions have no resource types.
LOG_DELIVERY_ACTIONS = frozenset(
    {
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    }
)


class Resolver:
    """Resolves the intrinsics used in our templates against parameter values.

    A Ref to, or GetAtt of, a resource is handed to ``resource_hook(logical_id, attribute)``; the default
    hook returns the placeholder ``<logical_id>`` / ``<logical_id.attribute>``.
    """

    def __init__(self, template: dict, params: dict[str, str] | None = None, resource_hook=None):
        self.template = template
        self.params = parameter_values(template, params)
        self.resource_hook = resource_hook or (
            lambda logical_id, attr: f"<{logical_id}.{attr}>" if attr else f"<{logical_id}>"
        )

    def _name(self, name: str, local: dict[str, Any]) -> Any:
        if name in local:
            return local[name]
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.params:
            return self.params[name]
        if "." in name:
            logical_id, attr = name.split(".", 1)
            return self.resource_hook(logical_id, attr)
        if name in self.template.get("Resources", {}):
            return self.resource_hook(name, None)
        raise KeyError(f"unknown name in Sub/Ref: {name}")

    def _sub(self, text: str, local: dict[str, Any]) -> str:
        out, i = [], 0
        while True:
            start = text.find("${", i)
            if start < 0:
                out.append(text[i:])
                return "".join(out)
            end = text.index("}", start)
            out.append(text[i:start])
            inner = text[start + 2 : end]
            if inner.startswith("!"):  # ${!Literal}
                out.append("${" + inner[1:] + "}")
            else:
                out.append(str(self._name(inner, local)))
            i = end + 1

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, arg),) = value.items()
                if key == "Ref":
                    return self._name(arg, {})
                if key == "Fn::GetAtt":
                    logical_id, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                    return self.resource_hook(logical_id, attr)
                if key == "Fn::Sub":
                    if isinstance(arg, str):
                        return self._sub(arg, {})
                    text, local = arg
                    return self._sub(text, {k: self.resolve(v) for k, v in local.items()})
                if key == "Fn::Split":
                    sep, text = arg
                    return self.resolve(text).split(sep)
                if key == "Fn::Select":
                    index, items = arg
                    return self.resolve(items)[int(self.resolve(index))]
                if key == "Fn::Join":
                    sep, items = arg
                    if isinstance(items, dict):  # a list made by a function (e.g. Fn::Split)
                        items = self.resolve(items)
                    return sep.join(str(self.resolve(v)) for v in items)
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def iam_policy_documents(template: dict) -> Iterator[tuple[str, dict]]:
    """(where, policy document) for every identity policy declared in the template."""
    for name, res in template.get("Resources", {}).items():
        props = res.get("Properties", {})
        if res.get("Type") == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                yield f"{name}/{policy['PolicyName']}", policy["PolicyDocument"]
        elif res.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            yield name, props["PolicyDocument"]


def allow_statements(template: dict) -> Iterator[tuple[str, dict]]:
    for where, document in iam_policy_documents(template):
        for statement in as_list(document["Statement"]):
            if statement.get("Effect") == "Allow":
                yield where, statement


def activity_arn(name: str) -> str:
    partition, region, account = PSEUDO["AWS::Partition"], PSEUDO["AWS::Region"], PSEUDO["AWS::AccountId"]
    return f"arn:{partition}:states:{region}:{account}:activity:{name}"


def step_functions_resolver(params: dict[str, str] | None = None) -> Resolver:
    """A resolver for step-functions-resources whose activity Refs give stand-in activity ARNs."""
    template = load_template("step-functions-resources")
    resolver: Resolver

    def hook(logical_id: str, attr: str | None) -> str:
        res = template["Resources"][logical_id]
        if res["Type"] == "AWS::StepFunctions::Activity" and attr in (None, "Arn"):
            return activity_arn(resolver.resolve(res["Properties"]["Name"]))
        return f"<{logical_id}.{attr}>" if attr else f"<{logical_id}>"

    resolver = Resolver(template, params, hook)
    return resolver


def state_machine_definition(logical_id: str, params: dict[str, str] | None = None) -> str:
    """The state machine's ASL as CloudFormation would hand it to Step Functions (substitutions applied)."""
    resolver = step_functions_resolver(params)
    props = resolver.template["Resources"][logical_id]["Properties"]
    text = json.dumps(props["Definition"])
    for key, value in props.get("DefinitionSubstitutions", {}).items():
        text = text.replace("${" + key + "}", str(resolver.resolve(value)))
    return text


def declared_activity_arns(params: dict[str, str] | None = None) -> dict[str, str]:
    """logical id -> stand-in ARN of every activity declared in step-functions-resources."""
    resolver = step_functions_resolver(params)
    activities = resources_of_type(resolver.template, "AWS::StepFunctions::Activity")
    return {name: resolver.resolve({"Ref": name}) for name in activities}


# ---------------------------------------------------------------------------------------------------------
# The workflow as the templates declare it: jobs, tasks and who works them (for the invariant tests).
# ---------------------------------------------------------------------------------------------------------


def glue_resolver(params: dict[str, str] | None = None) -> Resolver:
    """A resolver for glue-resources: a Ref to a database, table or job is its name (as CloudFormation
    gives it), anything else a placeholder."""
    template = load_template("glue-resources")
    resolver: Resolver

    def hook(logical_id: str, attr: str | None) -> str:
        res = template["Resources"][logical_id]
        props = res.get("Properties", {})
        if attr is None and res["Type"] == "AWS::Glue::Database":
            return resolver.resolve(props["DatabaseInput"]["Name"])
        if attr is None and res["Type"] == "AWS::Glue::Table":
            return resolver.resolve(props["TableInput"]["Name"])
        if attr is None and res["Type"] == "AWS::Glue::Job":
            return resolver.resolve(props["Name"])
        return f"<{logical_id}.{attr}>" if attr else f"<{logical_id}>"

    resolver = Resolver(template, params, hook)
    return resolver


def glue_jobs(params: dict[str, str] | None = None) -> dict[str, dict]:
    """Job name -> its resolved properties, for every AWS::Glue::Job of glue-resources."""
    resolver = glue_resolver(params)
    jobs = resources_of_type(resolver.template, "AWS::Glue::Job").values()
    resolved = [resolver.resolve(job["Properties"]) for job in jobs]
    return {props["Name"]: props for props in resolved}


def glue_tables(params: dict[str, str] | None = None) -> dict[str, dict]:
    """Table name -> its resolved TableInput, for every AWS::Glue::Table of glue-resources."""
    resolver = glue_resolver(params)
    tables = resources_of_type(resolver.template, "AWS::Glue::Table").values()
    inputs = [resolver.resolve(table["Properties"]["TableInput"]) for table in tables]
    return {table["Name"]: table for table in inputs}


def state_machines() -> list[str]:
    """Logical ids of the state machines of step-functions-resources."""
    return list(
        resources_of_type(load_template("step-functions-resources"), "AWS::StepFunctions::StateMachine")
    )


def scopes(machine: dict) -> list[dict]:
    """The machine and every Parallel branch in it, each a scope in which Next names a state."""
    found = [machine]
    for state in machine["States"].values():
        for branch in state.get("Branches", []):
            found += scopes(branch)
    return found


def task_inputs(machine: dict) -> dict[str, dict]:
    """Task state name -> the input its worker gets: its Parameters, or the Result of the Pass state right
    before it (a JSON string, as the seed's "Prep For …" states give it), or {}."""
    inputs: dict[str, dict] = {}
    for scope in scopes(machine):
        states = scope["States"]
        for name, state in states.items():
            if state["Type"] != "Task":
                continue
            given: object = state.get("Parameters")
            if given is None:
                before = [s for s in states.values() if s.get("Next") == name and s["Type"] == "Pass"]
                given = before[0].get("Result") if len(before) == 1 else None
            if isinstance(given, str):
                given = json.loads(given)
            inputs[name] = given if isinstance(given, dict) else {}
    return inputs


def runner_stacks() -> dict[str, str]:
    """Runner stack -> the activity ARN its function polls (SFN_ACTIVITY_ARN, resolved with defaults)."""
    polled = {}
    for stack in STACKS:
        template = load_template(stack)
        for function in resources_of_type(template, "AWS::Lambda::Function").values():
            variables = function["Properties"].get("Environment", {}).get("Variables", {})
            if "SFN_ACTIVITY_ARN" in variables:
                polled[stack] = Resolver(template).resolve(variables["SFN_ACTIVITY_ARN"])
    return polled


def runner_class(stack: str) -> type:
    """The runner class of a runner stack's function (its Handler's module): name and failure_error."""
    import importlib.util

    template = load_template(stack)
    (function,) = resources_of_type(template, "AWS::Lambda::Function").values()
    name = function["Properties"]["Handler"].rsplit(".", 1)[0]
    (path,) = (REPO_ROOT / "lambda").glob(f"*/{name}.py")  # the module at the zip's root
    spec = importlib.util.spec_from_file_location(f"runner_of_{stack.replace('-', '_')}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (runner,) = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and hasattr(value, "failure_error") and hasattr(value, "id_attribute")
    ]
    return runner


def runner_errors(stack: str) -> set[str]:
    """The errors a runner answers a task with (DESIGN.md "Task input and output")."""
    runner = runner_class(stack)
    return {
        runner.failure_error,
        f"{runner.name}.InvalidInput",
        f"{runner.name}.StartFailed",
        f"{runner.name}.AccessDenied",
    }


def wait_activities(params: dict[str, str] | None = None) -> dict[str, str]:
    """ons3objectcreated's WAIT_ACTIVITIES, resolved: s3://bucket/key -> wait activity ARN."""
    resolver = step_functions_resolver(params)
    (function,) = resources_of_type(resolver.template, "AWS::Lambda::Function").values()
    variables = function["Properties"]["Environment"]["Variables"]
    return json.loads(resolver.resolve(variables["WAIT_ACTIVITIES"]))


def allowed(statements: list[dict], action: str, resource: str) -> bool:
    """Whether an Allow statement (resolved) grants ``action`` on ``resource`` (IAM's * and ? wildcards)."""
    from fnmatch import fnmatchcase

    for statement in statements:
        if action not in as_list(statement["Action"]):
            continue
        if any(fnmatchcase(resource, pattern) for pattern in as_list(statement["Resource"])):
            return True
    return False
