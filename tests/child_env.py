"""The environment of a child process a test starts (pynt, the e2e driver): fake credentials, nothing that
could point it at a real account, an endpoint or another pace than its own."""

from __future__ import annotations

import os

# Variables that could point a child at a real account or change its pace; removed from its environment.
_DROPPED_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_ENDPOINT_URL",
    "AWS_SESSION_TOKEN",
    "LOCALAWS_TIME_SCALE",
    "LOCALAWS_FAULTS",  # a user's fault mode must not leak into a test's child
)


def child_environment(**extra: str) -> dict[str, str]:
    """The test process's environment with fake credentials and no AWS profile or endpoint of its own;
    `extra` adds to it (e.g. AWS_ENDPOINT_URL of an endpoint the test started)."""
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_VARIABLES}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        PYTHONUNBUFFERED="1",
        **extra,
    )
    # A child's endpoint records its IAM decisions where the test run says (a recording of the suite's
    # decisions: tests/iam/record_decisions.py), else nowhere: not in the repository's build/ folder.
    env.setdefault("LOCALAWS_IAM_AUDIT", os.devnull)
    return env


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now, for an endpoint a test starts in a child process."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
