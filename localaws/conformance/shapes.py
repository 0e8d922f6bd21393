"""A response body checked against botocore's shape for it: what an SDK stricter than botocore would refuse.

botocore's parsers are lenient on purpose: a JSON ``null`` is read as "absent", a key outside the model is
dropped, a timestamp is read from a number or any date string. Other SDKs, and code that reads the raw
answer, are not. So the check here is of the wire, as AWS writes it:

- JSON (``json``, ``rest-json``): an object per structure, with only the model's members (their serialized
  names) and every required one; no ``null`` (AWS leaves the key out) except inside a ``document``; strings,
  whole numbers for ``integer``/``long`` (a bool is not one), numbers for ``float``/``double`` (or AWS's
  ``"NaN"``/``"Infinity"``/``"-Infinity"``), ``true``/``false``, timestamps as epoch seconds unless the shape
  says ``timestampFormat`` (then an ISO-8601 or HTTP-date string), base64 text for blobs; an enum's value one
  the model lists.
- XML (``query``, ``rest-xml``): elements named as the model serializes them (lists wrapped in ``member`` or
  the list's ``locationName``, or flattened; maps of ``entry``/``key``/``value``), every required member,
  whole numbers, ``true``/``false``, ISO-8601 timestamps; the text ``None`` where a value should be, which is
  how a Python ``None`` leaks into a templated answer.

Each problem is ``(kind, path, detail)``; ``path`` is JSONPath-like (``$.executions[0].stopDate``).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

from botocore.model import Shape

EXTRA_KEY = "extra key"
MISSING_REQUIRED = "missing required member"
NULL = "null"
WRONG_TYPE = "wrong type"
NOT_IN_ENUM = "value not in enum"


@dataclass(frozen=True)
class Problem:
    kind: str
    path: str
    detail: str


_ISO_8601 = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$")
_HTTP_DATE = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$")
_FLOAT_WORDS = frozenset({"NaN", "Infinity", "-Infinity"})


def _members_by_wire_name(shape: Shape, xml: bool) -> dict[str, tuple[str, Shape]]:
    """Serialized name -> (member name, member shape) of a structure's body members (cached on the shape)."""
    attribute = "_localaws_xml_names" if xml else "_localaws_json_names"
    cached = shape.__dict__.get(attribute)
    if cached is None:
        cached = {}
        for name, member in shape.members.items():
            serialization = member.serialization
            if serialization.get("location") or serialization.get("xmlAttribute"):
                continue  # a header, status code or XML attribute: not a body key
            if xml:
                cached[_xml_member_name(member, name)] = (name, member)
            else:
                cached[serialization.get("name", name)] = (name, member)
        shape.__dict__[attribute] = cached
    return cached


def _xml_member_name(member: Shape, name: str) -> str:
    # As botocore's XML parser: a flattened list's items carry its member's locationName, if it has one.
    if member.type_name == "list" and member.serialization.get("flattened"):
        item_name = member.member.serialization.get("name")
        if item_name:
            return item_name
    return member.serialization.get("name", name)


def _is_document(shape: Shape) -> bool:
    return bool(shape.metadata.get("document"))


# -- JSON ---------------------------------------------------------------------------------------------------


def check_json(shape: Shape, value: Any, path: str = "$") -> list[Problem]:
    """Problems of ``value`` (a parsed JSON body) as the serialization of ``shape``; members the model
    places elsewhere (a REST answer's headers and status code) are not looked for in it."""
    problems: list[Problem] = []
    _walk(_plan(shape), value, path, problems)
    return problems


class _Plan:
    """What the JSON walk needs of one shape, read from botocore once (cached on the shape): the walk visits
    every value of every answer, so it must not ask botocore's lazy properties again and again."""

    __slots__ = ("shape", "kind", "document", "enum", "timestamp_form", "_members", "required", "_parts")

    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self.kind = shape.type_name
        self.document = _is_document(shape)
        self.enum = frozenset(shape.metadata.get("enum") or ()) or None
        self.timestamp_form = shape.serialization.get("timestampFormat", "unixTimestamp")
        self._members: dict[str, _Plan] | None = None
        self._parts: tuple[_Plan, ...] | None = None
        self.required: tuple[tuple[str, str], ...] = ()
        if self.kind == "structure":
            self.required = tuple(
                (name, shape.members[name].serialization.get("name", name))
                for name in shape.required_members
                if not shape.members[name].serialization.get("location")
            )

    @property
    def members(self) -> dict[str, _Plan]:
        if self._members is None:  # built on first use: shapes may be recursive (DynamoDB's AttributeValue)
            self._members = {
                wire: _plan(member) for wire, (_, member) in _members_by_wire_name(self.shape, False).items()
            }
        return self._members

    @property
    def parts(self) -> tuple[_Plan, ...]:
        """A list's item plan, or a map's key and value plans."""
        if self._parts is None:
            shape = self.shape
            self._parts = (
                (_plan(shape.member),) if self.kind == "list" else (_plan(shape.key), _plan(shape.value))
            )
        return self._parts


def _plan(shape: Shape) -> _Plan:
    plan = shape.__dict__.get("_localaws_plan")
    if plan is None:
        plan = shape.__dict__["_localaws_plan"] = _Plan(shape)
    return plan


# A path is built as a chain (parent, part) and written out only for a problem: part is a member name, a list
# index (int) or a map key (a 1-tuple).
def _path_text(path: Any) -> str:
    parts = []
    while isinstance(path, tuple) and len(path) == 2:
        path, part = path
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif isinstance(part, tuple):
            parts.append(f"[{part[0]!r}]")
        else:
            parts.append(f".{part}")
    return str(path) + "".join(reversed(parts))


_WHOLE = ("integer", "long", "short", "byte")


def _walk(plan: _Plan, value: Any, path: Any, problems: list[Problem]) -> None:
    if value is None:
        problems.append(Problem(NULL, _path_text(path), "JSON null; AWS leaves the key out"))
        return
    if plan.document:
        return  # any JSON, nulls included
    kind = plan.kind
    kind_of_value = type(value)
    if kind == "structure":
        if kind_of_value is not dict:
            _wrong(problems, path, value, "an object")
            return
        members = plan.members
        for key, item in value.items():
            child = members.get(key)
            if child is None:
                detail = f"not a member of {plan.shape.name}"
                problems.append(Problem(EXTRA_KEY, _path_text((path, key)), detail))
            else:
                _walk(child, item, (path, key), problems)
        for name, wire in plan.required:
            if wire not in value:
                detail = f"required by {plan.shape.name}"
                problems.append(Problem(MISSING_REQUIRED, _path_text((path, name)), detail))
    elif kind == "list":
        if kind_of_value is not list:
            _wrong(problems, path, value, "an array")
            return
        (item_plan,) = plan.parts
        for index, item in enumerate(value):
            _walk(item_plan, item, (path, index), problems)
    elif kind == "map":
        if kind_of_value is not dict:
            _wrong(problems, path, value, "an object (map)")
            return
        key_plan, value_plan = plan.parts
        for key, item in value.items():
            if key_plan.enum is not None:
                _walk(key_plan, key, (path, (key,)), problems)
            _walk(value_plan, item, (path, (key,)), problems)
    elif kind == "string":
        if kind_of_value is not str:
            _wrong(problems, path, value, "a string")
        elif plan.enum is not None and value not in plan.enum:
            detail = f"{value!r} is none of {plan.shape.name}'s values"
            problems.append(Problem(NOT_IN_ENUM, _path_text(path), detail))
    elif kind in _WHOLE:
        if kind_of_value is not int:
            _wrong(problems, path, value, "a whole number")
    elif kind in ("float", "double"):
        if kind_of_value not in (int, float) and value not in _FLOAT_WORDS:
            _wrong(problems, path, value, "a number")
    elif kind == "boolean":
        if kind_of_value is not bool:
            _wrong(problems, path, value, "true or false")
    elif kind == "timestamp":
        form = plan.timestamp_form
        if form == "unixTimestamp":
            if kind_of_value not in (int, float):
                _wrong(problems, path, value, "epoch seconds (a number)")
        elif not (kind_of_value is str and (_ISO_8601.match(value) or _HTTP_DATE.match(value))):
            _wrong(problems, path, value, f"a {form} date string")
    elif kind == "blob" and not (kind_of_value is str and _is_base64(value)):
        _wrong(problems, path, value, "base64 text")


def _wrong(problems: list[Problem], path: Any, value: Any, expected: str) -> None:
    detail = f"{_json_type(value)} {value!r:.60}, expected {expected}"
    problems.append(Problem(WRONG_TYPE, _path_text(path), detail))


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _check_enum(shape: Shape, value: str, path: str, problems: list[Problem]) -> None:
    allowed = shape.metadata.get("enum")
    if allowed and value not in allowed:
        problems.append(Problem(NOT_IN_ENUM, path, f"{value!r} is none of {shape.name}'s values"))


# -- XML ----------------------------------------------------------------------------------------------------


def local_name(element: Element) -> str:
    tag = element.tag
    return tag.rpartition("}")[2] if tag.startswith("{") else tag


def check_xml(shape: Shape, element: Element, path: str = "$") -> list[Problem]:
    """Problems of ``element`` (whose children are the members) as the XML serialization of ``shape``."""
    problems: list[Problem] = []
    _xml_value(shape, element, path, problems)
    return problems


def _xml_value(shape: Shape, element: Element, path: str, problems: list[Problem]) -> None:
    kind = shape.type_name
    if kind == "structure":
        _xml_structure(shape, element, path, problems)
    elif kind == "list":
        item_name = shape.member.serialization.get("name", "member")
        for index, child in enumerate(element):
            if local_name(child) != item_name:
                detail = f"list item <{local_name(child)}>, expected <{item_name}>"
                problems.append(Problem(EXTRA_KEY, f"{path}[{index}]", detail))
            else:
                _xml_value(shape.member, child, f"{path}[{index}]", problems)
    elif kind == "map":
        if shape.serialization.get("flattened"):
            _xml_map_entry(shape, element, path, problems)
        else:
            for index, entry in enumerate(element):
                if local_name(entry) != "entry":
                    detail = f"map item <{local_name(entry)}>, expected <entry>"
                    problems.append(Problem(EXTRA_KEY, f"{path}[{index}]", detail))
                else:
                    _xml_map_entry(shape, entry, f"{path}[{index}]", problems)
    else:
        _xml_scalar(shape, element.text or "", path, problems)


def _xml_structure(shape: Shape, element: Element, path: str, problems: list[Problem]) -> None:
    members = _members_by_wire_name(shape, xml=True)
    seen = set()
    for child in element:
        name = local_name(child)
        found = members.get(name)
        if found is None:
            problems.append(Problem(EXTRA_KEY, f"{path}.{name}", f"not a member of {shape.name}"))
            continue
        member_name, member = found
        seen.add(member_name)
        child_path = f"{path}.{name}"
        if member.type_name == "list" and member.serialization.get("flattened"):
            _xml_value(member.member, child, child_path, problems)  # each repeated element is one item
        else:
            _xml_value(member, child, child_path, problems)
    for name in shape.required_members:
        member = shape.members[name]
        location = member.serialization.get("location")
        if name not in seen and not location and not member.serialization.get("xmlAttribute"):
            problems.append(Problem(MISSING_REQUIRED, f"{path}.{name}", f"required by {shape.name}"))


def _xml_map_entry(shape: Shape, entry: Element, path: str, problems: list[Problem]) -> None:
    key_name = shape.key.serialization.get("name", "key")
    value_name = shape.value.serialization.get("name", "value")
    for child in entry:
        name = local_name(child)
        if name == key_name:
            _xml_value(shape.key, child, f"{path}.{name}", problems)
        elif name == value_name:
            _xml_value(shape.value, child, f"{path}.{name}", problems)
        else:
            problems.append(Problem(EXTRA_KEY, f"{path}.{name}", f"expected <{key_name}> or <{value_name}>"))


def _xml_scalar(shape: Shape, text: str, path: str, problems: list[Problem]) -> None:
    kind = shape.type_name
    if text == "None" and "None" not in shape.metadata.get("enum", ()):
        problems.append(Problem(NULL, path, "the text 'None' (a Python None rendered into the XML)"))
        return
    expected = None
    stripped = text.strip()
    if kind == "string":
        _check_enum(shape, text, path, problems)
    elif kind in ("integer", "long", "short", "byte"):
        if not re.fullmatch(r"-?\d+", stripped):
            expected = "a whole number"
    elif kind in ("float", "double"):
        try:
            float(stripped)
        except ValueError:
            expected = "a number"
    elif kind == "boolean":
        if stripped not in ("true", "false"):
            expected = "true or false"
    elif kind == "timestamp":
        form = shape.serialization.get("timestampFormat", "iso8601")
        if form == "unixTimestamp":
            ok = re.fullmatch(r"\d+(\.\d+)?", stripped) is not None
        else:
            ok = bool(_ISO_8601.match(stripped) or _HTTP_DATE.match(stripped))
        if not ok:
            expected = f"a {form} timestamp"
    elif kind == "blob" and stripped and not _is_base64(stripped):
        expected = "base64 text"
    if expected is not None:
        problems.append(Problem(WRONG_TYPE, path, f"{text!r:.60}, expected {expected}"))


# -- reshaping a JSON answer ---------------------------------------------------------------------------------


def conform_json(shape: Shape, value: Any) -> tuple[Any, bool]:
    """``value`` (a parsed JSON body of ``shape``) without what AWS never sends: ``null`` members, map values
    and list items, and object keys outside the model; and whether anything had to go. Values of the wrong
    type are left as they are: the check reports them, nothing here guesses a repair."""
    changed = [False]
    cleaned = _conformed(_plan(shape), value, changed)
    return cleaned, changed[0]


def _conformed(plan: _Plan, value: Any, changed: list[bool]) -> Any:
    if plan.document:
        return value
    kind = plan.kind
    if kind == "structure" and type(value) is dict:
        members = plan.members
        result = {}
        for key, item in value.items():
            child = members.get(key)
            if child is None or item is None:
                changed[0] = True
            else:
                result[key] = _conformed(child, item, changed)
        return result
    if kind == "list" and type(value) is list:
        (item_plan,) = plan.parts
        if None in value:
            changed[0] = True
        return [_conformed(item_plan, item, changed) for item in value if item is not None]
    if kind == "map" and type(value) is dict:
        value_plan = plan.parts[1]
        result = {}
        for key, item in value.items():
            if item is None:
                changed[0] = True
            else:
                result[key] = _conformed(value_plan, item, changed)
        return result
    return value
