"""IAM's wildcard matching of actions and resources.

``*`` matches any run of characters (``/`` and ``:`` included: an ARN's segments are not special) and ``?``
exactly one. Action names are case-insensitive (``S3:getobject`` is ``s3:GetObject``); resource ARNs are
case-sensitive. A policy variable (``${aws:username}``) is substituted before matching by the caller; the
escapes ``${*}``, ``${?}`` and ``${$}`` stand for the literal characters.
"""

from __future__ import annotations

import functools
import re

_ESCAPES = {"${*}": "*", "${?}": "?", "${$}": "$"}


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        escaped = next((text for text in _ESCAPES if pattern.startswith(text, index)), None)
        if escaped is not None:
            parts.append(re.escape(_ESCAPES[escaped]))
            index += len(escaped)
            continue
        char = pattern[index]
        parts.append(".*" if char == "*" else "." if char == "?" else re.escape(char))
        index += 1
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """Does ``value`` match the IAM wildcard ``pattern`` (whole string)?"""
    return _compiled(pattern, ignore_case).fullmatch(value) is not None


def action_matches(pattern: str, action: str) -> bool:
    """``s3:Get*`` against ``s3:GetObject``; ``*`` is every action. Case-insensitive, as IAM's."""
    return matches(pattern, action, ignore_case=True)


def resource_matches(pattern: str, arn: str) -> bool:
    """``arn:aws:s3:::bucket/*`` against an object's ARN; ``*`` is every resource. Case-sensitive."""
    return pattern == "*" or matches(pattern, arn)
