"""What the conformance check accepts beyond each operation's model: the errors every AWS service may answer,
and the few known differences of the local endpoint that remain (the allow-list). Both live only here.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

# The "Common Errors" page of the AWS API references (e.g. the Step Functions, Lambda, IAM and EMR API
# references: "errors common to the API actions of all AWS services"), older and newer editions together.
COMMON_ERRORS = frozenset(
    {
        "AccessDeniedException",
        "ExpiredTokenException",
        "IncompleteSignature",
        "InternalFailure",
        "InvalidAction",
        "InvalidClientTokenId",
        "InvalidParameterCombination",
        "InvalidParameterValue",
        "InvalidQueryParameter",
        "MalformedHttpRequestException",
        "MalformedQueryString",
        "MissingAction",
        "MissingAuthenticationToken",
        "MissingParameter",
        "NotAuthorized",
        "OptInRequired",
        "RequestAbortedException",
        "RequestEntityTooLargeException",
        "RequestExpired",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "ThrottlingException",
        "UnknownOperationException",
        "UnrecognizedClientException",
        "ValidationError",
        # The same errors as the query-protocol services and the SigV4 front end spell them (IAM's and STS's
        # references, botocore's retry rules): AccessDenied, ExpiredToken, Throttling, and a bad signature.
        "AccessDenied",
        "ExpiredToken",
        "Throttling",
        "ThrottledException",
        "RequestThrottled",
        "RequestLimitExceeded",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "ValidationException",
    }
)

# Errors a service documents once for all its operations rather than in each operation's model.
SERVICE_ERRORS: dict[str, frozenset[str]] = {
    # Amazon S3 API reference, "Error responses": the botocore model lists only a few per operation.
    "s3": frozenset(
        {
            "AccessDenied",
            "BucketAlreadyExists",
            "BucketAlreadyOwnedByYou",
            "BucketNotEmpty",
            "EntityTooLarge",
            "IllegalLocationConstraintException",
            "InternalError",
            "InvalidArgument",
            "InvalidBucketName",
            "InvalidRange",
            "InvalidRequest",
            "MalformedXML",
            "MalformedPolicy",
            "MethodNotAllowed",
            "NoSuchBucket",
            "NoSuchBucketPolicy",
            "NoSuchCORSConfiguration",
            "NoSuchKey",
            "NoSuchLifecycleConfiguration",
            "NoSuchPublicAccessBlockConfiguration",
            "NoSuchTagSet",
            "NoSuchUpload",
            "NoSuchVersion",
            "OwnershipControlsNotFoundError",
            "PreconditionFailed",
            "ServerSideEncryptionConfigurationNotFoundError",
            "ServiceUnavailable",
            "SlowDown",
        }
    ),
}


def accepted_errors(service: str) -> frozenset[str]:
    """Codes any operation of ``service`` may answer besides the ones its model lists."""
    return COMMON_ERRORS | SERVICE_ERRORS.get(service, frozenset())


@dataclass(frozen=True)
class Allowance:
    """A known difference the check tolerates: ``operation`` is ``service.Operation`` (``*`` wildcards),
    ``kind`` a problem kind of ``localaws.conformance.shapes`` (or ``error code``), ``path`` a glob."""

    operation: str
    kind: str
    path: str
    reason: str

    def covers(self, operation: str, kind: str, path: str) -> bool:
        return (
            fnmatch.fnmatchcase(operation, self.operation)
            and kind == self.kind
            and fnmatch.fnmatchcase(path, self.path)
        )


# Keep this list short: each entry is a difference no bridge could remove, with why.
ALLOWED: tuple[Allowance, ...] = ()


def allowance_for(operation: str, kind: str, path: str) -> Allowance | None:
    return next((a for a in ALLOWED if a.covers(operation, kind, path)), None)
