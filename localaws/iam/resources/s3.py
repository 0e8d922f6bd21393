"""S3: buckets (``arn:aws:s3:::<bucket>``) and objects (``arn:aws:s3:::<bucket>/<key>``), path-style requests.

The action of an S3 operation is not always its name (S3's documented mapping): listing a bucket is
``s3:ListBucket`` (with the ``s3:prefix``, ``s3:delimiter`` and ``s3:max-keys`` condition keys), reading an
object or its head ``s3:GetObject`` (``s3:GetObjectVersion`` with a version id), every step of a multipart
upload ``s3:PutObject``, ``CopyObject`` ``s3:PutObject`` on the target and ``s3:GetObject`` on the source,
``DeleteObjects`` ``s3:DeleteObject`` on each key it lists.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from localaws.iam.requests import ServiceRequest
from localaws.iam.resources import Need, ResourceGap, Where, gap

# Bucket sub-resources: query parameter -> (action for GET, action for PUT, action for DELETE).
_BUCKET_SUBRESOURCES = {
    "policy": ("GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"),
    "notification": ("GetBucketNotification", "PutBucketNotification", None),
    "versioning": ("GetBucketVersioning", "PutBucketVersioning", None),
    "tagging": ("GetBucketTagging", "PutBucketTagging", "PutBucketTagging"),
    "location": ("GetBucketLocation", None, None),
    "publicAccessBlock": (
        "GetBucketPublicAccessBlock",
        "PutBucketPublicAccessBlock",
        "PutBucketPublicAccessBlock",
    ),
    "acl": ("GetBucketAcl", "PutBucketAcl", None),
    "cors": ("GetBucketCORS", "PutBucketCORS", "PutBucketCORS"),
    "lifecycle": ("GetLifecycleConfiguration", "PutLifecycleConfiguration", "PutLifecycleConfiguration"),
    "encryption": ("GetEncryptionConfiguration", "PutEncryptionConfiguration", "PutEncryptionConfiguration"),
    "ownershipControls": (
        "GetBucketOwnershipControls",
        "PutBucketOwnershipControls",
        "PutBucketOwnershipControls",
    ),
    "policyStatus": ("GetBucketPolicyStatus", None, None),
    "website": ("GetBucketWebsite", "PutBucketWebsite", "DeleteBucketWebsite"),
    "logging": ("GetBucketLogging", "PutBucketLogging", None),
}
_KEY = re.compile(r"<Key>(.*?)</Key>", re.DOTALL)


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def _xml_text(text: str) -> str:
    return (
        text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&apos;", "'")
    ).replace("&amp;", "&")


def _first(request: ServiceRequest, name: str) -> str | None:
    values = request.query.get(name)
    return values[0] if values else None


def needs(request: ServiceRequest, where: Where) -> list[Need]:
    bucket, _, key = request.path.lstrip("/").partition("/")
    method = request.method
    if not bucket:
        if method == "GET":
            return [Need("s3:ListAllMyBuckets", "*")]
        raise gap("s3", f"{method} /")
    request.operation = request.operation or _operation_name(request, key)
    if key:
        return _object_needs(request, bucket, key)
    return _bucket_needs(request, bucket)


def _operation_name(request: ServiceRequest, key: str) -> str:
    return f"{request.method} {'object' if key else 'bucket'}"


def _object_needs(request: ServiceRequest, bucket: str, key: str) -> list[Need]:
    method, query = request.method, request.query
    arn = object_arn(bucket, key)
    version = _first(request, "versionId")
    if "uploadId" in query:
        if method == "DELETE":
            return [Need("s3:AbortMultipartUpload", arn)]
        if method == "GET":
            return [Need("s3:ListMultipartUploadParts", arn)]
        return [Need("s3:PutObject", arn)]  # UploadPart, CompleteMultipartUpload
    if method == "POST" and "uploads" in query:
        return [Need("s3:PutObject", arn)]  # CreateMultipartUpload
    if "tagging" in query:
        action = {"GET": "GetObjectTagging", "PUT": "PutObjectTagging", "DELETE": "DeleteObjectTagging"}
        if method in action:
            return [Need(f"s3:{action[method]}", arn)]
    if "acl" in query:
        return [Need("s3:GetObjectAcl" if method == "GET" else "s3:PutObjectAcl", arn)]
    if method in ("GET", "HEAD"):
        return [Need("s3:GetObjectVersion" if version else "s3:GetObject", arn)]
    if method == "PUT":
        source = request.headers.get("x-amz-copy-source")
        found = [Need("s3:PutObject", arn)]
        if source:
            source_path, _, source_query = unquote(source).lstrip("/").partition("?")
            source_bucket, _, source_key = source_path.partition("/")
            action = "s3:GetObjectVersion" if "versionId=" in source_query else "s3:GetObject"
            found.append(Need(action, object_arn(source_bucket, source_key)))
        return found
    if method == "DELETE":
        return [Need("s3:DeleteObjectVersion" if version else "s3:DeleteObject", arn)]
    raise gap("s3", f"{method} on an object")


def _bucket_needs(request: ServiceRequest, bucket: str) -> list[Need]:
    method, query = request.method, request.query
    arn = bucket_arn(bucket)
    if method == "POST" and "delete" in query:
        keys = [_xml_text(k) for k in _KEY.findall(request.body.decode("utf-8", "replace"))]
        if not keys:
            raise ResourceGap("s3 DeleteObjects: no <Key> found in the request body")
        return list(dict.fromkeys(Need("s3:DeleteObject", object_arn(bucket, k)) for k in keys))
    for name, actions in _BUCKET_SUBRESOURCES.items():
        if name in query:
            index = {"GET": 0, "PUT": 1, "DELETE": 2}.get(method)
            action = actions[index] if index is not None else None
            if action is None:
                raise gap("s3", f"{method} ?{name}")
            return [Need(f"s3:{action}", arn)]
    if method == "GET" and "uploads" in query:
        return [Need("s3:ListBucketMultipartUploads", arn)]
    if method == "GET" and "versions" in query:
        return [Need.with_context("s3:ListBucketVersions", arn, _list_context(request))]
    if method in ("GET", "HEAD"):  # ListObjects(V2); HeadBucket is authorised as ListBucket
        return [Need.with_context("s3:ListBucket", arn, _list_context(request))]
    if method == "PUT":
        return [Need("s3:CreateBucket", arn)]
    if method == "DELETE":
        return [Need("s3:DeleteBucket", arn)]
    raise gap("s3", f"{method} on a bucket")


def _list_context(request: ServiceRequest) -> dict[str, str | None]:
    if request.method == "HEAD":
        return {}
    return {
        "s3:prefix": _first(request, "prefix"),
        "s3:delimiter": _first(request, "delimiter"),
        "s3:max-keys": _first(request, "max-keys"),
    }
