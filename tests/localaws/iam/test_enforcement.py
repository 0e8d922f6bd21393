"""The endpoint enforces IAM on role sessions (localaws/iam/middleware.py): AWS's answer in each protocol,
AWS's message, the decision recorded; the user's own keys stay the account's administrator."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from localaws.iam import authorizer
from tests.localaws.iam.iam_support import Events, make_role, session_client, trust

A = "123456789012"


@pytest.fixture(scope="module")
def events(local_aws) -> Events:
    return Events(local_aws)


@pytest.fixture
def table(aws_client, unique_name) -> str:
    name = unique_name("IamTable")
    aws_client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def table_arn(name: str) -> str:
    return f"arn:aws:dynamodb:us-east-1:{A}:table/{name}"


def denied(call) -> ClientError:
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value


def test_a_role_may_do_what_its_policy_allows_and_nothing_else(aws_client, local_aws, table, events) -> None:
    role = make_role(
        aws_client, [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": table_arn(table)}], trust()
    )
    ddb = session_client(aws_client, local_aws, role)("dynamodb")
    ddb.get_item(TableName=table, Key={"k": {"S": "x"}})  # allowed

    error = denied(lambda: ddb.put_item(TableName=table, Item={"k": {"S": "x"}}))
    assert error.response["Error"]["Code"] == "AccessDeniedException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    session = f"arn:aws:sts::{A}:assumed-role/{role.rsplit('/', 1)[1]}/tester"
    assert error.response["Error"]["Message"] == (
        f"User: {session} is not authorized to perform: dynamodb:PutItem on resource: {table_arn(table)} "
        "because no identity-based policy allows the dynamodb:PutItem action"
    )
    # moto never saw the denied write.
    assert "Item" not in aws_client("dynamodb").get_item(TableName=table, Key={"k": {"S": "x"}})
    # Both decisions reached the listeners, the allowed one with the statement that allowed it.
    (allowed,) = [e for e in events.allowed("dynamodb:GetItem") if e["principal"] == session]
    assert allowed["allowed_by"][0]["policy"].endswith("/test-policy")
    (record,) = [e for e in events.denied("dynamodb:PutItem") if e["principal"] == session]
    assert record["enforced"] and record["resource"] == table_arn(table) and record["via"] == "http"


def test_the_users_own_keys_are_the_accounts_administrator(aws_client, table) -> None:
    aws_client("dynamodb").put_item(TableName=table, Item={"k": {"S": "admin"}})  # no policy anywhere


def test_an_explicit_deny_is_named_as_one(aws_client, local_aws, table) -> None:
    role = make_role(
        aws_client,
        [
            {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": "*"},
        ],
        trust(),
    )
    ddb = session_client(aws_client, local_aws, role)("dynamodb")
    error = denied(lambda: ddb.delete_item(TableName=table, Key={"k": {"S": "x"}}))
    assert error.response["Error"]["Message"].endswith("with an explicit deny in an identity-based policy")


def test_s3_answers_access_denied_403_quoting_the_resource(aws_client, local_aws, unique_name) -> None:
    bucket = unique_name("iam-bucket").lower()
    aws_client("s3").create_bucket(Bucket=bucket)
    aws_client("s3").put_object(Bucket=bucket, Key="k", Body=b"1")
    role = make_role(
        aws_client,
        [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"}],
        trust(),
    )
    s3 = session_client(aws_client, local_aws, role)("s3")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]
    error = denied(lambda: s3.get_object(Bucket=bucket, Key="k"))
    assert error.response["Error"]["Code"] == "AccessDenied"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert f'on resource: "arn:aws:s3:::{bucket}/k" because no identity-based policy allows' in str(error)


def test_a_bucket_policys_explicit_deny_applies_to_a_role(aws_client, local_aws, unique_name) -> None:
    bucket = unique_name("iam-deny").lower()
    s3_admin = aws_client("s3")
    s3_admin.create_bucket(Bucket=bucket)
    s3_admin.put_object(Bucket=bucket, Key="secret/k", Body=b"1")
    s3_admin.put_object(Bucket=bucket, Key="open/k", Body=b"1")
    policy = {
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/secret/*",
            },
            # The usual TLS-only statement: the endpoint stands for HTTPS, so it never applies.
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": f"arn:aws:s3:::{bucket}/*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ]
    }
    s3_admin.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    role = make_role(aws_client, [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}], trust())
    s3 = session_client(aws_client, local_aws, role)("s3")
    assert s3.get_object(Bucket=bucket, Key="open/k")["Body"].read() == b"1"
    error = denied(lambda: s3.get_object(Bucket=bucket, Key="secret/k"))
    assert str(error).endswith("with an explicit deny in a resource-based policy")


def test_lambda_invoke_is_denied_in_rest_json(aws_client, local_aws) -> None:
    role = make_role(aws_client, [], trust())
    lam = session_client(aws_client, local_aws, role)("lambda")
    error = denied(lambda: lam.invoke(FunctionName="no-such-function"))
    assert error.response["Error"]["Code"] == "AccessDeniedException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert (
        "lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:123456789012:function:no-such-function"
        in str(error)
    )


def test_sqs_json_protocol_answers_the_query_compatible_code(aws_client, local_aws, unique_name) -> None:
    url = aws_client("sqs").create_queue(QueueName=unique_name("iam-queue"))["QueueUrl"]
    role = make_role(aws_client, [], trust())
    sqs = session_client(aws_client, local_aws, role)("sqs")
    error = denied(lambda: sqs.send_message(QueueUrl=url, MessageBody="m"))
    assert error.response["Error"]["Code"] == "AccessDenied"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "sqs:SendMessage" in error.response["Error"]["Message"]


def test_query_protocol_services_answer_an_error_response(aws_client, local_aws) -> None:
    role = make_role(aws_client, [], trust())
    iam = session_client(aws_client, local_aws, role)("iam")
    error = denied(lambda: iam.get_role(RoleName=role.rsplit("/", 1)[1]))
    assert error.response["Error"]["Code"] == "AccessDenied"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "iam:GetRole" in error.response["Error"]["Message"]


def test_get_caller_identity_needs_no_permission_and_names_the_session(aws_client, local_aws) -> None:
    role = make_role(aws_client, [{"Effect": "Deny", "Action": "*", "Resource": "*"}], trust())
    identity = session_client(aws_client, local_aws, role)("sts").get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{A}:assumed-role/{role.rsplit('/', 1)[1]}/tester"


def test_an_operation_without_a_resource_map_is_denied_naming_the_gap(aws_client, local_aws) -> None:
    role = make_role(aws_client, [{"Effect": "Allow", "Action": "*", "Resource": "*"}], trust())
    glue = session_client(aws_client, local_aws, role)("glue")
    error = denied(lambda: glue.get_crawler(Name="c"))
    assert error.response["Error"]["Code"] == "AccessDeniedException"
    assert "does not map glue:GetCrawler to its resource ARN" in error.response["Error"]["Message"]


def test_an_expired_session_is_refused_as_aws_does(aws_client, local_aws, table) -> None:
    role = make_role(aws_client, [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}], trust())
    session = authorizer.active().sessions.issue(role, "expired", duration_s=0)
    import boto3

    ddb = boto3.client(
        "dynamodb",
        endpoint_url=local_aws.endpoint_url,
        region_name=local_aws.region,
        **session.client_keys(),
    )
    error = denied(lambda: ddb.get_item(TableName=table, Key={"k": {"S": "x"}}))
    assert error.response["Error"]["Code"] == "ExpiredTokenException"


def test_a_wrong_session_token_is_refused(aws_client, local_aws, table) -> None:
    role = make_role(aws_client, [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}], trust())
    credentials = session_client(aws_client, local_aws, role).credentials
    import boto3

    ddb = boto3.client(
        "dynamodb",
        endpoint_url=local_aws.endpoint_url,
        region_name=local_aws.region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token="not-the-token",
    )
    error = denied(lambda: ddb.get_item(TableName=table, Key={"k": {"S": "x"}}))
    assert error.response["Error"]["Code"] == "UnrecognizedClientException"


def test_audit_mode_lets_a_denied_call_through_and_records_it(aws_client, local_aws, table, events) -> None:
    role = make_role(aws_client, [], trust())
    ddb = session_client(aws_client, local_aws, role)("dynamodb")
    authorizer.configure(local_aws, "audit")
    try:
        ddb.put_item(TableName=table, Item={"k": {"S": "audited"}})
    finally:
        authorizer.configure(local_aws, "enforce")
    assert "Item" in aws_client("dynamodb").get_item(TableName=table, Key={"k": {"S": "audited"}})
    records = [e for e in events.denied("dynamodb:PutItem") if e["role"] == role]
    assert len(records) == 1 and records[0]["enforced"] is False and records[0]["mode"] == "audit"


def test_every_decision_is_appended_to_the_audit_file(aws_client, local_aws, table) -> None:
    role = make_role(
        aws_client, [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": table_arn(table)}], trust()
    )
    ddb = session_client(aws_client, local_aws, role)("dynamodb")
    ddb.get_item(TableName=table, Key={"k": {"S": "x"}})
    denied(lambda: ddb.delete_item(TableName=table, Key={"k": {"S": "x"}}))
    path = authorizer.active().audit.path
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    mine = [r for r in lines if r.get("kind") == "decision" and r.get("role") == role]
    assert [(r["action"], r["allowed"]) for r in mine] == [
        ("dynamodb:GetItem", True),
        ("dynamodb:DeleteItem", False),
    ]
    assert mine[0]["label"].endswith("test_every_decision_is_appended_to_the_audit_file")
    (snapshot,) = [r for r in lines if r.get("kind") == "role" and r.get("name") == role]
    policy_name = f"inline:{role.rsplit('/', 1)[1]}/test-policy"
    assert [name for name, _ in snapshot["documents"]] == [policy_name]
    # Each decision names the documents it was evaluated against, each recorded once with its content.
    assert mine[0]["documents"] == snapshot["documents"]
    (document,) = [r for r in lines if r.get("kind") == "document" and r.get("name") == policy_name]
    assert document["document"]["Statement"][0]["Action"] == "dynamodb:GetItem"


def test_a_bad_mode_is_refused_in_one_line() -> None:
    with pytest.raises(authorizer.IamSettingError, match="enforce, audit, off"):
        authorizer.parse_mode("strict")


def test_off_mode_evaluates_nothing(aws_client, local_aws, table, events) -> None:
    role = make_role(aws_client, [], trust())
    ddb = session_client(aws_client, local_aws, role)("dynamodb")
    authorizer.configure(local_aws, "off")
    try:
        assert authorizer.active() is None
        ddb.put_item(TableName=table, Item={"k": {"S": "unchecked"}})
    finally:
        authorizer.configure(local_aws, "enforce")
    assert not [e for e in events.seen if e[1].get("role") == role]
    denied(lambda: ddb.put_item(TableName=table, Item={"k": {"S": "checked"}}))  # enforced again
