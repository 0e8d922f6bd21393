"""Setup shared by the endpoint benchmarks: clients of an in-process endpoint, and N live activity tasks."""

from __future__ import annotations

import json
import threading
from typing import Any

import boto3
from botocore.config import Config

ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def client(ctx: Any, service: str, pool: int = 16) -> Any:
    """A plain client of the endpoint: no retries (a benchmark must see every error), a long read timeout."""
    return boto3.client(
        service,
        endpoint_url=ctx.endpoint_url,
        region_name=ctx.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(read_timeout=120, retries={"total_max_attempts": 1}, max_pool_connections=pool),
    )


def service_role(ctx: Any, service: str) -> str:
    """The ARN of a role the endpoint lets ``service`` (``states``, ``glue``) assume, allowed everything: the
    endpoint enforces IAM, and a state machine or job needs a role that exists and trusts its service."""
    iam = client(ctx, "iam")
    name = f"bench-{service}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": f"{service}.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    try:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="bench", PolicyDocument=json.dumps(ALLOW_ALL))
    return arn


def waiting_tasks(ctx: Any, n: int, name: str) -> tuple[str, list[str]]:
    """N running executions, each holding an activity task a worker took: (activity ARN, N task tokens)."""
    sfn = client(ctx, "stepfunctions")
    activity = sfn.create_activity(name=name)["activityArn"]
    # As the templates' runner tasks: moto (unlike AWS) times a task out after 60 s without TimeoutSeconds.
    task = {
        "Type": "Task",
        "Resource": activity,
        "HeartbeatSeconds": 900,
        "TimeoutSeconds": 172800,
        "End": True,
    }
    definition = {"StartAt": "Run", "States": {"Run": task}}
    role = service_role(ctx, "states")
    machine = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=role)
    tokens: list[str] = []

    def start_and_take(first: int, count: int) -> None:
        own = client(ctx, "stepfunctions")
        for k in range(first, first + count):
            own.start_execution(stateMachineArn=machine["stateMachineArn"], name=f"run-{k}", input="{}")
            # A poll that ends empty (a task lost between queueing and the worker) just takes the next one.
            token = own.get_activity_task(activityArn=activity, workerName="bench").get("taskToken")
            if token:
                tokens.append(token)

    workers = 4
    shares = [(w * n // workers, (w + 1) * n // workers - w * n // workers) for w in range(workers)]
    threads = [threading.Thread(target=start_and_take, args=share) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return activity, tokens


def tracking_table(ctx: Any, name: str, range_key: str, items: list[dict[str, Any]]) -> None:
    """A runner-shaped table (hash `sfn_activity_arn`, range `range_key`) holding `items` (DynamoDB JSON)."""
    ddb = client(ctx, "dynamodb")
    ddb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "sfn_activity_arn", "KeyType": "HASH"},
            {"AttributeName": range_key, "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "sfn_activity_arn", "AttributeType": "S"},
            {"AttributeName": range_key, "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for start in range(0, len(items), 25):  # BatchWriteItem takes 25 at most
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        ddb.batch_write_item(RequestItems={name: batch})


def running_job_runs(ctx: Any, job: str, n: int) -> list[str]:
    """Create Glue job ``job`` and N runs of it that stay RUNNING (moto's own runs, not executed by the Glue
    bridge); return their ids."""
    from moto.glue.models import GlueBackend, glue_backends
    from moto.moto_api import state_manager

    client(ctx, "glue").create_job(
        Name=job,
        Role=service_role(ctx, "glue"),
        Command={"Name": "glueetl", "ScriptLocation": "s3://bench/none.py"},
        ExecutionProperty={"MaxConcurrentRuns": n + 1},
    )
    state_manager.set_transition("glue::job_run", {"progression": "manual", "times": 10**9})
    backend = glue_backends[ctx.account_id][ctx.region]
    from localaws.bridges import patching

    start = patching.original(GlueBackend, "start_job_run")  # moto's, under the Glue bridge's patch
    return [start(backend, job, None, None, None, None, None, None, None, None, None) for _ in range(n)]
