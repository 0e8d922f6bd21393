"""Build tasks for the project (run `pynt -l` to list them). The logic lives in buildlib/.

Every task works against real AWS by default and against AWS_ENDPOINT_URL when it is set. A problem the user
can fix is reported as one line on stderr with exit code 1.
"""

import functools
import gc
import logging
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # pynt loads this file by path; make buildlib importable

from botocore.exceptions import BotoCoreError, ClientError  # noqa: E402
from pynt import task  # noqa: E402

# Underscore names: pynt resolves a task name by module attribute first; `pynt deploy` must not hit a module.
from buildlib import deploy as _deploy  # noqa: E402
from buildlib import executions as _executions  # noqa: E402
from buildlib import lambdas as _lambdas  # noqa: E402
from buildlib import lint as _lint  # noqa: E402
from buildlib import local_params as _local_params  # noqa: E402
from buildlib import packaging as _packaging  # noqa: E402
from buildlib import s3 as _s3  # noqa: E402
from buildlib import stacks as _stacks  # noqa: E402
from buildlib.aws import describe  # noqa: E402
from buildlib.commandline import check_command_line  # noqa: E402
from buildlib.errors import BuildError  # noqa: E402
from buildlib.project import (  # noqa: E402
    DEFAULT_STATE_MACHINE,
    NO_DEFAULT,
    STACKS,
    check_stacks,
    load_project,
)

_quiet_abort = False


class _DropAbortNoise(logging.Filter):
    """pynt logs 'Error in task' / 'Aborting build' after a task fails; our one line already said it all."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (_quiet_abort and record.levelno >= logging.CRITICAL)


logging.getLogger(Path(__file__).name).addFilter(_DropAbortNoise())


def _exit_quietly(code: int) -> None:
    """Exit with `code` and without pynt's abort lines: what went wrong is printed already."""
    global _quiet_abort
    sys.stdout.flush()
    _quiet_abort = True
    sys.exit(code)


def _reported(fn):
    """Run the task; a BuildError (or an AWS error) becomes one line on stderr and exit code 1."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except BuildError as exc:
            message = _no_default_hint(str(exc))
        except (ClientError, BotoCoreError) as exc:
            message = describe(exc, fn.__name__)
        sys.stdout.flush()
        print(f"error: {message}", file=sys.stderr, flush=True)
        _exit_quietly(1)

    return run


_said_local = False


def _project():
    """The project; on a local endpoint (AWS_ENDPOINT_URL set) with the values `pynt localparams` wrote."""
    global _said_local
    overrides = _local_params.local_overrides(ROOT)
    if overrides is not None and not _said_local:
        _said_local = True
        print(f"values of {_local_params.LOCAL_PARAMS_FILE} (AWS_ENDPOINT_URL is set)", flush=True)
    return load_project(ROOT, overrides=overrides)


def _no_default_hint(message: str) -> str:
    """On a local endpoint, a `<NO-DEFAULT>` left says which command sets every one of them."""
    local = os.environ.get("AWS_ENDPOINT_URL")
    if NO_DEFAULT in message and local and _local_params.local_overrides(ROOT) is None:
        return f"{message}; on a local endpoint `pynt localparams` sets every one of them"
    return message


@task()
@_reported
def clean():
    """Remove the build/ folder."""
    _packaging.clean(_project())


@task()
@_reported
def packagelambda(*functions):
    """Zip Lambda functions into build/<fn>.zip (all when none): packagelambda[gluerunner,...]"""
    _packaging.package_lambdas(_project(), functions)


@task()
@_reported
def deploylambda(*functions):
    """Upload build/<fn>.zip to the descriptor's bucket/key; creates the bucket if missing (all when none)."""
    _lambdas.deploy_lambdas(_project(), functions)


@task()
@_reported
def updatelambda(*functions):
    """Put build/<fn>.zip straight into the deployed Lambda functions (all when none)."""
    _lambdas.update_lambdas(_project(), functions)


@task()
@_reported
def createstack(*stack_names):
    """Create stacks and wait (all, in order, when none): createstack[step-functions-resources]"""
    project = _project()
    for name in check_stacks(stack_names):
        _stacks.create_stack(project, name)


@task()
@_reported
def updatestack(*stack_names):
    """Update stacks and wait (all when none); 'no updates' is fine: updatestack[glue-resources]"""
    project = _project()
    for name in check_stacks(stack_names):
        _stacks.update_stack(project, name)


@task()
@_reported
def deletestack(*stack_names):
    """Delete the named stacks and wait: deletestack[glue-resources]"""
    if not stack_names:
        raise BuildError(f"name the stack to delete: pynt deletestack[<stack>]; stacks: {', '.join(STACKS)}")
    project = _project()
    for name in check_stacks(stack_names):
        _stacks.delete_stack(project, name)


@task()
@_reported
def stackstatus(*stack_names):
    """Print status and reason of stacks (all when none)."""
    _stacks.stack_status(_project(), stack_names)


@task()
@_reported
def deploygluescripts():
    """Upload every glue-scripts/*.py to S3ETLScriptPath."""
    _s3.deploy_glue_scripts(_project())


@task()
@_reported
def deletes3bucket(name=None, confirm=None):
    """Empty (all versions) and delete a bucket; asks y/N, or deletes3bucket[name,yes] for scripts."""
    _s3.delete_bucket(_project(), name, confirm)


@task()
@_reported
def localparams():
    """Write cloudformation/local-params.json: a value for each <NO-DEFAULT>, for a local endpoint."""
    path = _local_params.write_local_params(ROOT)
    print(f"wrote {path.relative_to(ROOT)}: the tasks use it whenever AWS_ENDPOINT_URL is set")
    for key, value in _local_params.LOCAL_VALUES.items():
        print(f"  {key} = {value}")


@task()
@_reported
def deployall():
    """packagelambda, deploylambda, deploygluescripts, then create or update the four stacks in order."""
    _deploy.deploy_all(_project())


@task()
@_reported
def uploaddata(*files, **destinations):
    """Upload the sample CSVs to the data bucket's sales/ and marketing/ (or: uploaddata[f.csv=sales/])."""
    _s3.upload_data(_project(), files, destinations)


@task()
@_reported
def startexecution(machine=DEFAULT_STATE_MACHINE):
    """Start an execution of a state machine (default MarketingAndSalesETLOrchestrator); prints its ARN."""
    _executions.start_execution(_project(), machine)


@task()
@_reported
def executionstatus(arn=None):
    """Status and each state's last event of an execution (ARN or machine name; default: the latest)."""
    project = _project()
    if arn and not arn.startswith("arn:"):
        result = _executions.execution_status(project, None, machine=arn)
    else:
        result = _executions.execution_status(project, arn)
    if code := _executions.status_exit_code(result["status"]):
        _exit_quietly(code)  # scripts can tell a failed execution from a successful or running one


@task()
@_reported
def lint():
    """cfn-lint cloudformation/*.yaml and ruff check ."""
    _lint.lint(_project())


@task()
@_reported
def pictures():
    """Re-render resources/architecture.svg from cloudformation/*.yaml and resources/architecture.toml."""
    from buildlib.pictures.render import write_pictures

    for path in write_pictures(ROOT):
        print(f"wrote {path.relative_to(ROOT)}")


# --- Local AWS (no account needed) -----------------------------------------------------------------------


@task()
@_reported
# console and iam only by name: six values by position stay a mistake the command line refuses.
def demo(sales=None, marketing=None, output=None, time_scale=None, faults=None, *, console=None, iam=None):
    """Deploy on an embedded local AWS and run both workflows for real: demo[sales=a.csv,marketing=b.csv]
    (console=true: keep the endpoint and its console open afterwards, until Ctrl-C; iam=audit|off: IAM
    records would-be denials or is off instead of enforced)"""
    from localaws.cli import CommandError, demo_command, set_iam_mode
    from localaws.faults import ENV_VAR, FaultSpecError, parse_spec

    try:
        set_iam_mode(iam)  # demo[iam=audit]: the endpoint reads it as LOCALAWS_IAM
    except CommandError as exc:
        raise BuildError(str(exc)) from exc
    if faults is not None:  # demo[faults=throttle:0.2;seed:1]: the endpoint reads it as LOCALAWS_FAULTS
        try:
            parse_spec(faults)
        except FaultSpecError as exc:
            raise BuildError(str(exc)) from exc
        os.environ[ENV_VAR] = faults
    try:
        demo_command(sales=sales, marketing=marketing, output=output, time_scale=time_scale, console=console)
    except CommandError as exc:
        raise BuildError(str(exc)) from exc
    finally:
        # The process ends with the demo: leave its ~300,000 objects (moto's backends, Spark proxies) to the
        # OS instead of garbage-collecting them at exit, which took 0.6 s.
        gc.freeze()


@task()
@_reported
def localaws(port="4566", time_scale=None, iam=None):
    """Serve the local AWS endpoint in the foreground (Ctrl-C stops it): localaws[port=4566,iam=audit]"""
    from localaws.cli import CommandError, localaws_command, set_iam_mode

    try:
        set_iam_mode(iam)
        localaws_command(port=port, time_scale=time_scale)
    except CommandError as exc:
        raise BuildError(str(exc)) from exc


@task()
@_reported
def iamreport(file=None, run=None):
    """After a local run: each role's calls, the statement that allowed each, the statements nothing used
    (reads build/iam-audit.jsonl, which `pynt demo` and `pynt localaws` write): iamreport[file=…,run=…]"""
    from localaws.iam.report import ReportError, main

    try:
        main(file or ROOT / "build" / "iam-audit.jsonl", sys.stdout, run)
    except ReportError as exc:
        raise BuildError(str(exc)) from exc


# Last, once every task is defined: pynt answers a bad task call with a traceback, so check the calls first.
check_command_line(globals())
