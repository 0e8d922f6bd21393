"""The endpoint's IAM: its mode, its sessions, and one recorded decision per authorised action.

Modes (``LocalAwsContext.iam``, from ``LOCALAWS_IAM``; ``enforce`` by default):

- ``enforce``: a denied call gets AWS's AccessDenied answer (a service acting for a principal fails the
  same way: a Lambda not invoked, a Glue run or Athena query that fails);
- ``audit``: every call is evaluated and recorded, a would-be denial logged, and the call goes on;
- ``off``: nothing is evaluated, workloads get the endpoint's fake credentials, as before IAM existed here.

``install(ctx)`` makes an endpoint's authorizer the active one (``LocalAws.start``); the bridges and the
middleware reach it through ``active()``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localaws.iam import store
from localaws.iam.audit import AuditLog
from localaws.iam.identities import Session, SessionError, SessionRegistry
from localaws.iam.policy import Decision, Policy, Principal, evaluate
from localaws.iam.resources import Need

log = logging.getLogger("localaws.iam")

MODES = ("enforce", "audit", "off")
ENV_VAR = "LOCALAWS_IAM"


class IamSettingError(ValueError):
    """A bad IAM mode; the message is one line naming the choices."""


def parse_mode(raw: str | None) -> str:
    mode = (raw or "enforce").strip().lower()
    if mode not in MODES:
        raise IamSettingError(f"the IAM mode must be one of {', '.join(MODES)}; got {raw!r}")
    return mode


@dataclass
class Outcome:
    """The decisions for one call. ``proceed`` is what the caller does: False only when enforcing a denial."""

    proceed: bool
    decisions: list[Decision] = field(default_factory=list)
    denied: Decision | None = None
    message: str | None = None  # AWS's AccessDenied message of the first denied need

    @property
    def allowed(self) -> bool:
        return self.denied is None


def resource_policy_of(need: Need, account: str) -> Policy | None:
    """The resource-based policy this endpoint evaluates for a need: a bucket's, a function's, or none."""
    if need.action.lower().startswith("s3:") and need.resource.startswith("arn:aws:s3:::"):
        bucket = need.resource[len("arn:aws:s3:::") :].split("/", 1)[0]
        return store.bucket_policy(bucket, account)
    if need.action.lower() == "lambda:invokefunction":
        return store.function_policy(need.resource)
    return None


class Authorizer:
    def __init__(self, ctx: Any, mode: str, audit_path: Path) -> None:
        self.ctx = ctx
        self.mode = mode
        self.account = ctx.account_id
        self.region = ctx.region
        self.sessions = SessionRegistry(ctx.account_id, ctx.region)
        self.audit = AuditLog(audit_path, ctx, mode)
        self.run = self.audit.run  # one endpoint run: sessions cached for it are not another run's

    @property
    def enforcing(self) -> bool:
        return self.mode == "enforce"

    def base_context(self, principal: Principal, region: str | None = None) -> dict[str, Any]:
        """The global condition keys of every request this endpoint serves (it stands for AWS's HTTPS)."""
        context: dict[str, Any] = {
            "aws:SecureTransport": True,
            "aws:RequestedRegion": region or self.region,
            "aws:PrincipalIsAWSService": bool(principal.service),
        }
        if principal.service:
            context["aws:PrincipalServiceName"] = principal.service
        else:
            context["aws:PrincipalAccount"] = principal.account
            if principal.role_arn:
                context["aws:PrincipalArn"] = principal.role_arn
        return context

    # -- decisions ---------------------------------------------------------------------------------------
    def authorize(
        self,
        principal: Principal,
        needs: Iterable[Need],
        *,
        via: str,
        service: str,
        operation: str,
        region: str | None = None,
        context: Mapping[str, Any] | None = None,
        identity_policies: list[Policy] | None = None,
        resource_policy: Callable[[Need], Policy | None] | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> Outcome:
        """Decide every need of one call, record each decision, and say whether the call proceeds."""
        needs = list(needs)
        if identity_policies is None:
            identity_policies = self._identity_policies(principal)
        identity_documents = [self.audit.document(p.name, p.document) for p in identity_policies]
        lookup = resource_policy or (lambda need: resource_policy_of(need, self.account))
        outcome = Outcome(proceed=True)
        base = {**self.base_context(principal, region), **(context or {})}
        for need in needs:
            policy = lookup(need)
            documents = list(identity_documents)
            if policy is not None:
                documents.append(self.audit.document(policy.name, policy.document))
            full_context = {**base, **need.context_dict()}
            decision = evaluate(
                principal, need.action, need.resource, identity_policies, policy, full_context
            )
            outcome.decisions.append(decision)
            self._record(
                principal,
                decision,
                via,
                service,
                operation,
                full_context,
                policy,
                detail,
                documents=documents,
            )
            if not decision.allowed and outcome.denied is None:
                outcome.denied = decision
                outcome.message = decision.message(principal.arn)
        if outcome.denied is not None and self.enforcing:
            outcome.proceed = False
        return outcome

    def deny_gap(self, principal: Principal, why: str, *, via: str, service: str, operation: str) -> Outcome:
        """A call whose resource this endpoint cannot build: denied (enforce) or reported (audit), never
        allowed unchecked."""
        action = f"{service}:{operation or '?'}"
        decision = Decision(action, "?", allowed=False, reason="gap", undecidable=[why])
        message = f"User: {principal.arn} is not authorized to perform: {action} (local endpoint: {why})"
        self._record(principal, decision, via, service, operation, {}, None, None, message=message)
        return Outcome(proceed=not self.enforcing, decisions=[decision], denied=decision, message=message)

    def _identity_policies(self, principal: Principal) -> list[Policy]:
        if not principal.role_arn:
            return []
        try:
            policies = store.role_policies(principal.role_arn, principal.account)
        except store.RoleNotFound:
            return []  # a deleted role: its sessions may nothing
        documents = [self.audit.document(p.name, p.document) for p in policies]
        self.audit.snapshot("role", principal.role_arn, {"documents": documents})
        return policies

    def _record(
        self,
        principal: Principal,
        decision: Decision,
        via: str,
        service: str,
        operation: str,
        context: Mapping[str, Any],
        policy: Policy | None,
        detail: Mapping[str, Any] | None,
        message: str | None = None,
        documents: list[tuple[str, str]] | None = None,
    ) -> None:
        text = None if decision.allowed else (message or decision.message(principal.arn))
        if not decision.allowed:
            verb = "denied" if self.enforcing else "would be denied (audit mode)"
            log.warning("IAM %s: %s", verb, text)
        elif decision.undecidable:  # allowed by another statement; the condition is still worth a word
            log.warning(
                "IAM could not decide, for %s %s: %s", principal.arn, decision.action, decision.undecidable
            )
        self.audit.decision(
            {
                "principal": principal.arn,
                "role": principal.role_arn,
                "service_principal": principal.service,
                "via": via,
                "service": service,
                "operation": operation,
                "action": decision.action,
                "resource": decision.resource,
                "context": {k: v for k, v in context.items() if not k.startswith("aws:Principal")},
                "allowed": decision.allowed,
                "enforced": self.enforcing,
                "reason": decision.reason,
                "allowed_by": [ref.as_dict() for ref in decision.allowed_by],
                "denied_by": [ref.as_dict() for ref in decision.denied_by],
                "undecidable": decision.undecidable,
                "resource_policy": policy.name if policy is not None else None,
                "documents": documents or [],
                "message": text,
                "detail": dict(detail or {}),
            }
        )

    # -- sessions ----------------------------------------------------------------------------------------
    def assume_role(
        self,
        role_arn: str,
        service: str,
        session_name: str,
        duration_s: float,
        *,
        source_account: str | None = None,
        source_arn: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> Session:
        """Credentials of ``role_arn`` for an AWS service acting with it, after its trust policy allowed the
        service (``sts:AssumeRole``, with the ``aws:SourceAccount``/``aws:SourceArn`` the service sets).
        Raises SessionError when enforcing and the role is missing or does not trust the service."""
        principal = Principal(service, self.account, service=service)
        context: dict[str, Any] = {}
        if source_account:
            context["aws:SourceAccount"] = source_account
        if source_arn:
            context["aws:SourceArn"] = source_arn
        try:
            trust = store.trust_policy(role_arn, self.account)
        except store.RoleNotFound as exc:
            outcome = self.deny_gap(
                principal, str(exc), via="assume-role", service="sts", operation="AssumeRole"
            )
            if not outcome.proceed:
                raise SessionError(f"{service} cannot assume {role_arn}: it does not exist") from exc
            return self.sessions.issue(role_arn, session_name, duration_s)
        outcome = self.authorize(
            principal,
            [Need("sts:AssumeRole", role_arn)],
            via="assume-role",
            service="sts",
            operation="AssumeRole",
            context=context,
            identity_policies=[trust],
            resource_policy=lambda need: None,
            detail=detail,
        )
        if not outcome.proceed:
            raise SessionError(
                f"{service} is not allowed to assume {role_arn}: its trust policy does not allow it"
                + (
                    f" ({'; '.join(outcome.denied.undecidable)})"
                    if outcome.denied and outcome.denied.undecidable
                    else ""
                ),
                outcome.denied,
            )
        return self.sessions.issue(role_arn, session_name, duration_s)

    def close(self) -> None:
        self.audit.close()


_state: dict[str, Any] = {"authorizer": None, "ctx": None}
_lock = threading.Lock()


def audit_path(ctx: Any) -> Path:
    configured = getattr(ctx, "iam_audit", "") or ""
    return Path(configured) if configured else Path(ctx.work_dir) / "iam-audit.jsonl"


def install(ctx: Any) -> Authorizer | None:
    """Make the endpoint's IAM mode active (``LocalAws.start``); None when it is off.

    Raises IamSettingError before anything is changed when the mode is bad."""
    mode = parse_mode(getattr(ctx, "iam", None))
    authorizer = Authorizer(ctx, mode, audit_path(ctx)) if mode != "off" else None
    with _lock:
        previous = _state["authorizer"]
        _state["authorizer"], _state["ctx"] = authorizer, ctx
    if previous is not None:
        previous.close()
    return authorizer


def configure(ctx: Any, mode: str) -> Authorizer | None:
    """Change the mode of a running endpoint (tests, ``localaws``'s users). Sessions already issued stay
    valid; switching off drops them, as the workloads started then keep the credentials they have."""
    mode = parse_mode(mode)
    ctx.iam = mode
    with _lock:
        current = _state["authorizer"] if _state["ctx"] is ctx else None
    if current is not None and mode != "off":
        current.mode = mode
        current.audit.mode = mode
        return current
    return install(ctx)


def uninstall(ctx: Any) -> None:
    with _lock:
        if _state["ctx"] is not ctx:
            return
        authorizer = _state["authorizer"]
        _state["authorizer"], _state["ctx"] = None, None
    if authorizer is not None:
        authorizer.close()


def active() -> Authorizer | None:
    return _state["authorizer"]


def summary(ctx: Any) -> dict[str, Any] | None:
    """Mode, counts and the denials of the endpoint of ``ctx`` so far; None when its IAM is off."""
    with _lock:
        authorizer = _state["authorizer"] if _state["ctx"] is ctx else None
    if authorizer is None:
        return None
    audit = authorizer.audit
    return {
        "mode": authorizer.mode,
        "audit_file": str(audit.path),
        "allowed": audit.counts["allowed"],
        "denied": audit.counts["denied"],
        "denials": [
            {k: d.get(k) for k in ("principal", "action", "resource", "message", "via", "detail")}
            for d in audit.denials
        ],
    }
