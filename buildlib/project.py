"""The project's configuration: param files, the deployment descriptor and runner configs, and their checks.

`load_project(root, overrides=...)` reads everything that exists (a missing file only fails the tasks that
need it) and applies overrides in memory; `Project.validate()` runs every check of docs/DESIGN.md before
any AWS call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from buildlib.aws import Aws
from buildlib.errors import BuildError
from buildlib.glue_jobs import declared_glue_jobs

NO_DEFAULT = "<NO-DEFAULT>"

# Stacks in creation order (DESIGN.md "Names").
STACKS = ("step-functions-resources", "glue-resources", "gluerunner-lambda", "athenarunner-lambda")
FUNCTIONS = ("gluerunner", "athenarunner", "ons3objectcreated")
RUNNERS = ("gluerunner", "athenarunner")
RUNNER_CORE = "etlrunner"
# Functions whose zip holds the core package: the runners, and ons3objectcreated for its nudge event.
CORE_USERS = (*RUNNERS, "ons3objectcreated")

# Which stack deploys which function (its SourceS3BucketName/SourceS3Key must match the descriptor).
FUNCTION_STACK = {
    "gluerunner": "gluerunner-lambda",
    "athenarunner": "athenarunner-lambda",
    "ons3objectcreated": "step-functions-resources",
}
STACK_FUNCTION = {stack: fn for fn, stack in FUNCTION_STACK.items()}
# The param holding each function's name, where the stack takes one.
FUNCTION_NAME_PARAM = {
    "gluerunner": "GlueRunnerLambdaFunctionName",
    "athenarunner": "AthenaRunnerLambdaFunctionName",
}
DESCRIPTOR_KEYS = ("SourceS3BucketName", "SourceS3Key")
# Param key <-> runner config key, for overrides and the agreement check.
RUNNER_CONFIG_KEYS = {"DDBTableName": "ddb_table"}
# Left empty in its params file, this value is derived (buildlib/glue_jobs.py): every Glue job that
# glue-resources.yaml declares, so that a job's name is written in one place.
DERIVED_ALLOWED_JOBS = ("gluerunner-lambda", "AllowedGlueJobNames")

STATE_MACHINES = ("MarketingAndSalesETLOrchestrator", "AthenaRunnerTestETLOrchestrator")
DEFAULT_STATE_MACHINE = STATE_MACHINES[0]
SALES_FILE = "SalesPipeline_QuickSightSample.csv"
MARKETING_FILE = "MarketingData_QuickSightSample.csv"
DATA_FILES = {SALES_FILE: "sales/", MARKETING_FILE: "marketing/"}
# Activity names are at most 80 characters: "<bucket>-" + the longest expected file name.
MAX_ACTIVITY_NAME = 80
MAX_DATA_BUCKET_NAME = MAX_ACTIVITY_NAME - 1 - max(len(SALES_FILE), len(MARKETING_FILE))

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def _rel(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/prefix/` -> ("bucket", "prefix") (no trailing slash)."""
    if not url.startswith("s3://"):
        raise ValueError(url)
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(url)
    return bucket, prefix.strip("/")


def unknown_name(kind: str, name: str, valid: Iterable[str]) -> BuildError:
    return BuildError(f"unknown {kind} '{name}': valid {kind}s are {', '.join(valid)}")


def check_stacks(names: Iterable[str]) -> list[str]:
    """The given stack names (all, in creation order, when none), or a BuildError listing the valid ones."""
    names = list(names) or list(STACKS)
    for name in names:
        if name not in STACKS:
            raise unknown_name("stack", name, STACKS)
    return names


def check_functions(names: Iterable[str]) -> list[str]:
    names = list(names) or list(FUNCTIONS)
    for name in names:
        if name not in FUNCTIONS:
            raise unknown_name("function", name, FUNCTIONS)
    return names


class Project:
    """Everything the tasks read from the repository, with overrides applied in memory."""

    def __init__(
        self,
        root: Path | str,
        overrides: Mapping[str, str] | None = None,
        aws: Aws | None = None,
        out: Callable[[str], None] = print,
    ) -> None:
        self.root = Path(root).resolve()
        self.overrides = dict(overrides or {})
        self.aws = aws or Aws()
        self.out = out
        self._params: dict[str, dict[str, str]] = {}
        self._param_errors: dict[str, str] = {}
        self._descriptor: dict[str, dict[str, str]] | None = None
        self._descriptor_error: str | None = None
        self._runner_configs: dict[str, dict] = {}
        self._used_overrides: set[str] = set()
        self._declared_jobs: list[str] | None = None
        self._load()

    # ----- paths -----------------------------------------------------------------------------------------
    @property
    def cloudformation_dir(self) -> Path:
        return self.root / "cloudformation"

    @property
    def lambda_dir(self) -> Path:
        return self.root / "lambda"

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    @property
    def glue_scripts_dir(self) -> Path:
        return self.root / "glue-scripts"

    @property
    def samples_dir(self) -> Path:
        return self.root / "samples"

    @property
    def descriptor_path(self) -> Path:
        return self.lambda_dir / "s3-deployment-descriptor.json"

    def param_path(self, stack: str) -> Path:
        return self.cloudformation_dir / f"{stack}-params.json"

    def template_path(self, stack: str) -> Path:
        return self.cloudformation_dir / f"{stack}.yaml"

    def runner_config_path(self, runner: str) -> Path:
        return self.lambda_dir / runner / f"{runner}-config.json"

    def zip_path(self, function: str) -> Path:
        return self.build_dir / f"{function}.zip"

    def rel(self, path: Path) -> str:
        return _rel(self.root, path)

    # ----- loading ---------------------------------------------------------------------------------------
    def _read_json(self, path: Path):
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise
        except (OSError, ValueError) as exc:
            raise BuildError(f"{self.rel(path)} is not valid JSON: {exc}") from exc

    def _override_for(self, scope: str, key: str) -> str | None:
        """A scoped override `<scope>:<key>` wins over a plain `<key>`."""
        for name in (f"{scope}:{key}", key):
            if name in self.overrides:
                self._used_overrides.add(name)
                return str(self.overrides[name])
        return None

    def _load(self) -> None:
        for stack in STACKS:
            path = self.param_path(stack)
            try:
                data = self._read_json(path)
            except FileNotFoundError:
                self._param_errors[stack] = f"{self.rel(path)} not found: create it (see docs/DESIGN.md)"
                continue
            if not isinstance(data, list) or not all(
                isinstance(p, dict) and "ParameterKey" in p and "ParameterValue" in p for p in data
            ):
                self._param_errors[stack] = (
                    f'{self.rel(path)} must be a list of {{"ParameterKey", "ParameterValue"}} objects'
                )
                continue
            params = {str(p["ParameterKey"]): str(p["ParameterValue"]) for p in data}
            for key in params:
                value = self._override_for(stack, key)
                if value is not None:
                    params[key] = value
            self._params[stack] = params

        try:
            descriptor = self._read_json(self.descriptor_path)
        except FileNotFoundError:
            self._descriptor_error = (
                f"{self.rel(self.descriptor_path)} not found: create it (see docs/DESIGN.md)"
            )
        else:
            if not isinstance(descriptor, dict) or not all(isinstance(v, dict) for v in descriptor.values()):
                self._descriptor_error = (
                    f"{self.rel(self.descriptor_path)} must map each function to "
                    '{"SourceS3BucketName", "SourceS3Key"}'
                )
            else:
                self._descriptor = {}
                for fn, entry in descriptor.items():
                    entry = {k: str(v) for k, v in entry.items()}
                    stack = FUNCTION_STACK.get(fn, fn)
                    for key in DESCRIPTOR_KEYS:
                        if key in entry:
                            value = self._override_for(stack, key)
                            if value is not None:
                                entry[key] = value
                    self._descriptor[fn] = entry

        for runner in RUNNERS:
            path = self.runner_config_path(runner)
            try:
                config = self._read_json(path)
            except FileNotFoundError:
                continue
            if not isinstance(config, dict):
                raise BuildError(f"{self.rel(path)} must be a JSON object")
            for param_key, config_key in RUNNER_CONFIG_KEYS.items():
                if config_key in config:
                    value = self._override_for(FUNCTION_STACK[runner], param_key)
                    if value is not None:
                        config[config_key] = value
            self._runner_configs[runner] = config

    # ----- access ----------------------------------------------------------------------------------------
    def params(self, stack: str) -> dict[str, str]:
        """The stack's parameters (overrides applied, derived values filled in), in file order."""
        if stack not in STACKS:
            raise unknown_name("stack", stack, STACKS)
        if stack in self._param_errors:
            raise BuildError(self._param_errors[stack])
        params = dict(self._params[stack])
        derived_stack, derived_key = DERIVED_ALLOWED_JOBS
        if stack == derived_stack and params.get(derived_key) == "":
            params[derived_key] = ",".join(self.declared_glue_jobs())
        return params

    def derived_note(self, stack: str) -> str | None:
        """One line naming a value build.py derived for the stack, for the create/update output."""
        derived_stack, derived_key = DERIVED_ALLOWED_JOBS
        if stack != derived_stack or self._params.get(stack, {}).get(derived_key) != "":
            return None
        jobs = ",".join(self.declared_glue_jobs())
        return f"{stack}: {derived_key} = {jobs} (the Glue jobs of cloudformation/glue-resources.yaml)"

    def declared_glue_jobs(self) -> list[str]:
        """Every Glue job cloudformation/glue-resources.yaml declares (read once)."""
        if self._declared_jobs is None:
            template = self.template_path("glue-resources")
            self._declared_jobs = declared_glue_jobs(template, self.rel(template))
        return list(self._declared_jobs)

    def param(self, stack: str, key: str) -> str:
        params = self.params(stack)
        if key not in params:
            raise BuildError(
                f"{self.rel(self.param_path(stack))}: add ParameterKey {key} (see docs/DESIGN.md)"
            )
        value = params[key]
        if NO_DEFAULT in value:
            raise BuildError(f"{self.rel(self.param_path(stack))}: set {key} (still {NO_DEFAULT})")
        return value

    def cfn_parameters(self, stack: str) -> list[dict[str, str]]:
        return [{"ParameterKey": k, "ParameterValue": v} for k, v in self.params(stack).items()]

    @property
    def descriptor(self) -> dict[str, dict[str, str]]:
        if self._descriptor is None:
            raise BuildError(self._descriptor_error or "no deployment descriptor")
        return {fn: dict(entry) for fn, entry in self._descriptor.items()}

    def deployment_target(self, function: str) -> tuple[str, str]:
        """(bucket, key) the function's zip is deployed to, from the descriptor."""
        entry = self.descriptor.get(function)
        where = self.rel(self.descriptor_path)
        if entry is None:
            raise BuildError(f"{where}: add an entry for {function} with SourceS3BucketName and SourceS3Key")
        for key in DESCRIPTOR_KEYS:
            if key not in entry:
                raise BuildError(f"{where}: add {function}.{key}")
            if NO_DEFAULT in entry[key]:
                raise BuildError(f"{where}: set {function}.{key} (still {NO_DEFAULT})")
        return entry["SourceS3BucketName"], entry["SourceS3Key"]

    def runner_config(self, runner: str) -> dict | None:
        config = self._runner_configs.get(runner)
        return dict(config) if config is not None else None

    @property
    def data_bucket(self) -> str:
        return self.param("step-functions-resources", "SourceDataBucketName")

    def s3_path(self, stack: str, key: str) -> tuple[str, str]:
        value = self.param(stack, key)
        try:
            return parse_s3_url(value)
        except ValueError:
            raise BuildError(
                f"{self.rel(self.param_path(stack))}: {key} must look like s3://bucket/prefix, not '{value}'"
            ) from None

    def function_name(self, function: str) -> str:
        """The deployed Lambda function's name as the stacks name it (the param where there is one)."""
        param = FUNCTION_NAME_PARAM.get(function)
        if param:
            value = self._params.get(FUNCTION_STACK[function], {}).get(param)
            if value and NO_DEFAULT not in value:
                return value
        return function

    # ----- checks ----------------------------------------------------------------------------------------
    def validate(self) -> None:
        """Every check of docs/DESIGN.md, before any AWS call; the first problem becomes a BuildError."""
        unused = sorted(set(self.overrides) - self._used_overrides)
        if unused:
            raise BuildError(
                f"override {unused[0]} matches no parameter, descriptor entry or runner config key"
            )
        for stack in STACKS:
            self.params(stack)
        self.descriptor  # noqa: B018 - raises when missing

        missing = []
        for stack in STACKS:
            for key, value in self._params[stack].items():
                if NO_DEFAULT in value:
                    missing.append(f"{self.rel(self.param_path(stack))}: set {key}")
        for fn, entry in self._descriptor.items():
            for key, value in entry.items():
                if NO_DEFAULT in value:
                    missing.append(f"{self.rel(self.descriptor_path)}: set {fn}.{key}")
        if missing:
            more = f" (and {len(missing) - 1} more {NO_DEFAULT} values)" if len(missing) > 1 else ""
            raise BuildError(f"{missing[0]} (still {NO_DEFAULT}){more}")

        # Every function has a descriptor entry that agrees with the stack deploying it.
        for fn in FUNCTIONS:
            self.deployment_target(fn)
            stack = FUNCTION_STACK[fn]
            for key in DESCRIPTOR_KEYS:
                self._agree(
                    (self.rel(self.descriptor_path), f"{fn}.{key}", self._descriptor[fn][key]),
                    (self.rel(self.param_path(stack)), key, self.param(stack, key)),
                )

        # SourceDataBucketName across every file that has it.
        holders = [s for s in STACKS if "SourceDataBucketName" in self._params[s]]
        if "step-functions-resources" not in holders:
            self.param("step-functions-resources", "SourceDataBucketName")
        for stack in holders[1:]:
            self._agree(
                self._where(holders[0], "SourceDataBucketName"), self._where(stack, "SourceDataBucketName")
            )

        # Activity names between the state machine stack and the runner stacks.
        for stack, key in (
            ("gluerunner-lambda", "GlueRunnerActivityName"),
            ("athenarunner-lambda", "AthenaRunnerActivityName"),
        ):
            self._agree(self._where("step-functions-resources", key), self._where(stack, key))

        # Each runner's DDBTableName with its config's ddb_table.
        for runner in RUNNERS:
            config = self._runner_configs.get(runner)
            stack = FUNCTION_STACK[runner]
            if config is None or "DDBTableName" not in self._params[stack]:
                continue
            config_path = self.rel(self.runner_config_path(runner))
            if "ddb_table" not in config:
                raise BuildError(
                    f"{config_path}: add ddb_table (the DDBTableName of {self.rel(self.param_path(stack))})"
                )
            self._agree(
                self._where(stack, "DDBTableName"), (config_path, "ddb_table", str(config["ddb_table"]))
            )

        # Bucket names: valid, and the data bucket short enough for the wait activity names.
        for fn in FUNCTIONS:
            self._check_bucket(
                self._descriptor[fn]["SourceS3BucketName"],
                f"{self.rel(self.descriptor_path)}: {fn}.SourceS3BucketName",
            )
        data_bucket = self.data_bucket
        where = f"{self.rel(self.param_path('step-functions-resources'))}: SourceDataBucketName"
        self._check_bucket(data_bucket, where)
        if len(data_bucket) > MAX_DATA_BUCKET_NAME:
            raise BuildError(
                f"{where} '{data_bucket}' is {len(data_bucket)} characters; at most {MAX_DATA_BUCKET_NAME} "
                f"are allowed because the wait activity names '<SourceDataBucketName>-{SALES_FILE}' "
                f"would exceed {MAX_ACTIVITY_NAME} characters: set a shorter name in every params file"
            )
        for key in ("S3ETLScriptPath", "S3ETLOutputPath"):
            if key in self._params["glue-resources"]:
                bucket, _ = self.s3_path("glue-resources", key)
                self._check_bucket(bucket, f"{self.rel(self.param_path('glue-resources'))}: {key}")

    def _where(self, stack: str, key: str) -> tuple[str, str, str]:
        return self.rel(self.param_path(stack)), key, self.param(stack, key)

    @staticmethod
    def _agree(a: tuple[str, str, str], b: tuple[str, str, str]) -> None:
        if a[2] != b[2]:
            raise BuildError(
                f"values disagree: {a[0]} {a[1]} is '{a[2]}' but {b[0]} {b[1]} is '{b[2]}': "
                "set both to the same value"
            )

    @staticmethod
    def _check_bucket(name: str, where: str) -> None:
        if not _BUCKET_RE.match(name) or ".." in name:
            raise BuildError(
                f"{where} '{name}' is not a valid S3 bucket name "
                "(3-63 lower-case letters, digits, '.' and '-')"
            )


def load_project(
    root: Path | str,
    overrides: Mapping[str, str] | None = None,
    aws: Aws | None = None,
    out: Callable[[str], None] = print,
) -> Project:
    """Read the project under `root`.

    `overrides` maps a ParameterKey to the value to use instead of the files' one, in memory: in every params
    file that has the key, in the descriptor (SourceS3BucketName/SourceS3Key) and in the runner configs
    (DDBTableName -> ddb_table). A key written `<stack>:<ParameterKey>` applies to that stack's params file
    and the function that stack deploys only. `out` receives every line the tasks print.
    """
    return Project(root, overrides=overrides, aws=aws, out=out)
