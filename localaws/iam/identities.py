"""The sessions the endpoint's STS issues, and who a request's access key belongs to.

A workload's session is issued through moto's STS (so ``GetCallerIdentity`` answers the assumed-role ARN,
as inside a Lambda on AWS) after the role's trust policy has been checked for the service that assumes it
(``lambda.amazonaws.com`` for a function's execution role, ``glue.amazonaws.com`` for a job's, ...). Keys
issued by a client's own ``AssumeRole`` call are found in moto's STS too. Any other key is the user's own:
it acts as the account's administrator (``lookup`` returns None).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from localaws.iam.policy import Principal


class SessionError(Exception):
    """The role could not be assumed (missing role, trust policy refused); the message says why."""

    def __init__(self, message: str, decision: Any = None) -> None:
        super().__init__(message)
        self.decision = decision


@dataclass(frozen=True)
class Session:
    """Temporary credentials of one role session."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: float  # epoch seconds
    role_arn: str
    session_name: str
    account: str

    @property
    def arn(self) -> str:
        return (
            f"arn:aws:sts::{self.account}:assumed-role/{self.role_arn.rsplit('/', 1)[-1]}/{self.session_name}"
        )

    @property
    def principal(self) -> Principal:
        return Principal(self.arn, self.account, role_arn=self.role_arn)

    def expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expiration

    def environment(self) -> dict[str, str]:
        """The variables Lambda sets for its execution role's credentials."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }

    def client_keys(self) -> dict[str, str]:
        """The keyword arguments of a boto3 client acting as this session."""
        return {
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": self.secret_access_key,
            "aws_session_token": self.session_token,
        }


def _moto_sts(account: str) -> Any:
    from moto.sts.models import sts_backends

    return sts_backends[account]["aws"]


def _session_of(assumed: Any) -> Session:
    return Session(
        access_key_id=assumed.access_key_id,
        secret_access_key=assumed.secret_access_key,
        session_token=assumed.session_token,
        expiration=assumed.expiration.timestamp(),
        role_arn=assumed.role_arn,
        session_name=assumed.session_name,
        account=assumed.account_id,
    )


class SessionRegistry:
    """The endpoint's issued sessions by access key (moto's STS keeps them in a list walked per lookup)."""

    def __init__(self, account: str, region: str) -> None:
        self.account = account
        self.region = region
        self._sessions: dict[str, Session] = {}
        self._not_issued: set[str] = set()
        self._seen_moto = 0  # how many of moto's assumed roles were indexed
        self._lock = threading.Lock()

    def issue(self, role_arn: str, session_name: str, duration_s: float) -> Session:
        """New credentials for the role (the trust policy already checked by the caller)."""
        assumed = _moto_sts(self.account).assume_role(
            region_name=self.region,
            role_session_name=session_name[:64],
            role_arn=role_arn,
            policy=None,
            duration=int(duration_s),
            external_id=None,
        )
        session = _session_of(assumed)
        with self._lock:
            self._sessions[session.access_key_id] = session
            self._not_issued.discard(session.access_key_id)
        return session

    def lookup(self, access_key: str) -> Session | None:
        """The issued session of an access key; None for a key this endpoint's STS did not issue."""
        with self._lock:
            session = self._sessions.get(access_key)
            if session is not None:
                return session
            assumed_roles = _moto_sts(self.account).assumed_roles
            if access_key in self._not_issued and len(assumed_roles) == self._seen_moto:
                return None
            for assumed in assumed_roles[self._seen_moto :]:  # keys issued by a client's AssumeRole
                self._sessions.setdefault(assumed.access_key_id, _session_of(assumed))
            self._seen_moto = len(assumed_roles)
            session = self._sessions.get(access_key)
            if session is None:
                self._not_issued.add(access_key)
            return session
