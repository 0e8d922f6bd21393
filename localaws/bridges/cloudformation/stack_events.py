"""Stack resources with their own status, time and events, as CloudFormation reports them.

moto gaps: a resource whose ``Condition`` is false was listed as a blank entry (ListStackResources), and
DescribeStackResource then failed on it with a 500 for any logical id it lacks (AWS: ValidationError
"Resource <id> does not exist for stack <name>"); DescribeStackResources dated every resource 2010-07-27 and
gave it the stack's status; DescribeStackEvents held the stack's own events only. Each resource now records
its status and time as moto creates, updates or deletes it, with the per-resource events AWS writes
(``*_IN_PROGRESS`` then ``*_COMPLETE``, ``CREATE_FAILED``, ``DELETE_SKIPPED``), newest first.
"""

from __future__ import annotations

import contextlib
from typing import Any

from moto.cloudformation import parsing as cfn_parsing
from moto.cloudformation import responses as cfn_responses
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import Event, Stack
from moto.core.responses import ActionResult

from localaws.bridges import patching


def install() -> None:
    """Patch moto's stacks, resource maps and stack resource answers in-process; idempotent."""
    _patch_resource_status_and_events()
    _patch_stack_resource_answers()


_STACK_REF = "_localaws_stack"  # ResourceMap -> its Stack (moto keeps no such link)
_STATUS = "_localaws_resource_status"  # resource -> (status, time) of its last operation


def _stack_of(resources_map: Any) -> Stack | None:
    return getattr(resources_map, _STACK_REF, None)


def _resource_event(
    stack: Stack, logical_id: str, physical_id: str, resource_type: str, status: str, reason=None
):
    return Event(
        stack_id=stack.stack_id,
        stack_name=stack.name,
        logical_resource_id=logical_id,
        physical_resource_id=physical_id,
        resource_type=resource_type,
        resource_status=status,
        resource_status_reason=reason,
        resource_properties=None,
    )


def _record(stack: Stack | None, resource: Any, *events: Event) -> None:
    """Keep the resource's last status and time; add its events to the stack's, in time order."""
    if resource is not None and events:
        # A model without a __dict__ keeps the stack's status and time.
        with contextlib.suppress(AttributeError):
            setattr(resource, _STATUS, (events[-1].resource_status, events[-1].timestamp))
    if stack is not None and events:
        stack.events.extend(events)
        # A resource created while another resolves its Ref finishes first; sorted() is stable for ties.
        stack.events.sort(key=lambda event: event.timestamp)


def _physical_id(resource: Any) -> str:
    try:
        return str(getattr(resource, "physical_resource_id", "") or "")
    except Exception:  # some models compute it from state that may be gone
        return ""


def _patch_resource_status_and_events() -> None:
    patching.wrap(Stack, "_create_resource_map", _resource_map_knowing_its_stack)
    patching.wrap(cfn_parsing, "parse_and_create_resource", _create_recording_events)
    patching.wrap(cfn_parsing, "parse_and_update_resource", _update_recording_events)
    patching.wrap(cfn_parsing.ResourceMap, "_delete_resource", _delete_recording_events)
    patching.wrap(cfn_parsing.ResourceMap, "delete", _delete_recording_skipped)


def _resource_map_knowing_its_stack(original_create_map):
    def _create_resource_map(self: Stack):
        resource_map = original_create_map(self)
        setattr(resource_map, _STACK_REF, self)
        return resource_map

    return _create_resource_map


def _create_recording_events(original_create):
    def parse_and_create_resource(logical_id, resource_json, resources_map, account_id, region_name):
        stack = _stack_of(resources_map)
        resource_type = resource_json.get("Type", "")
        started = (
            _resource_event(stack, logical_id, "", resource_type, "CREATE_IN_PROGRESS") if stack else None
        )
        try:
            resource = original_create(logical_id, resource_json, resources_map, account_id, region_name)
        except Exception as error:
            if stack is not None:
                failed = _resource_event(stack, logical_id, "", resource_type, "CREATE_FAILED", str(error))
                _record(stack, None, started, failed)
            raise
        if resource is not None and stack is not None:  # None: a false Condition, nothing is created
            done = _resource_event(
                stack, logical_id, _physical_id(resource), resource_type, "CREATE_COMPLETE"
            )
            _record(stack, resource, started, done)
        return resource

    return parse_and_create_resource


def _update_recording_events(original_update):
    def parse_and_update_resource(logical_id, resource_json, resources_map, account_id, region_name):
        stack = _stack_of(resources_map)
        resource_type = resource_json.get("Type", "")
        before = _physical_id(resources_map._parsed_resources.get(logical_id))
        started = (
            _resource_event(stack, logical_id, before, resource_type, "UPDATE_IN_PROGRESS") if stack else None
        )
        # A failure here is retried by moto's update loop (dependency order): no event until it succeeds.
        resource = original_update(logical_id, resource_json, resources_map, account_id, region_name)
        if resource is not None and stack is not None:
            done = _resource_event(
                stack, logical_id, _physical_id(resource), resource_type, "UPDATE_COMPLETE"
            )
            _record(stack, resource, started, done)
        return resource

    return parse_and_update_resource


def _delete_recording_events(original_delete_resource):
    def _delete_resource(self, parsed_resource, resource_json):
        stack = _stack_of(self)
        logical_id = getattr(parsed_resource, "logical_resource_id", "")
        physical_id = _physical_id(parsed_resource)
        resource_type = resource_json.get("Type", "")
        started = (
            _resource_event(stack, logical_id, physical_id, resource_type, "DELETE_IN_PROGRESS")
            if stack
            else None
        )
        # A failure is retried by moto's delete loop (dependency order): no event until it succeeds.
        original_delete_resource(self, parsed_resource, resource_json)
        if stack is not None:
            done = _resource_event(stack, logical_id, physical_id, resource_type, "DELETE_COMPLETE")
            _record(stack, parsed_resource, started, done)

    return _delete_resource


def _delete_recording_skipped(original_delete):
    def delete(self) -> None:
        stack = _stack_of(self)
        if stack is not None:
            for logical_id, resource_json in self._resource_json_map.items():
                resource = self._parsed_resources.get(logical_id)
                if resource_json.get("DeletionPolicy") == "Retain" and hasattr(
                    resource, "logical_resource_id"
                ):
                    skipped = _resource_event(
                        stack,
                        logical_id,
                        _physical_id(resource),
                        resource_json.get("Type", ""),
                        "DELETE_SKIPPED",
                    )
                    _record(stack, resource, skipped)
        original_delete(self)

    return delete


class StackResourceView:
    """One resource as the Describe/List calls show it: its own status and time (moto's DTO: the stack's
    status, a fixed 2010 date), and its drift status (never checked here)."""

    def __init__(self, stack: Stack, resource: Any) -> None:
        status, moment = getattr(resource, _STATUS, None) or ("CREATE_COMPLETE", stack.creation_time)
        self.stack_id = stack.stack_id
        self.stack_name = stack.name
        self.logical_resource_id = resource.logical_resource_id
        self.physical_resource_id = _physical_id(resource)
        self.resource_type = getattr(resource, "cf_resource_type", "")
        self.resource_status = status
        self.timestamp = moment
        self.last_updated_timestamp = moment
        self.drift_information = {"StackResourceDriftStatus": "NOT_CHECKED"}


def _existing_resources(stack: Stack) -> list[Any]:
    """The stack's resources that exist (a false Condition or unsupported type leaves None in moto's map)."""
    return [r for r in stack.stack_resources if r is not None and hasattr(r, "logical_resource_id")]


def _describe_stack_resource_action(self: Any) -> ActionResult:
    stack_name = self._get_param("StackName")
    logical_id = self._get_param("LogicalResourceId")
    stack = self.cloudformation_backend.get_stack(stack_name)
    for resource in _existing_resources(stack):
        if resource.logical_resource_id == logical_id:
            return ActionResult({"StackResourceDetail": StackResourceView(stack, resource)})
    raise ValidationError(stack_name, f"Resource {logical_id} does not exist for stack {stack_name}")


def _describe_stack_resources_action(self: Any) -> ActionResult:
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    logical_id = self._get_param("LogicalResourceId")
    resources = [
        StackResourceView(stack, r)
        for r in _existing_resources(stack)
        if logical_id is None or r.logical_resource_id == logical_id
    ]
    return ActionResult({"StackResources": resources})


def _list_stack_resources_action(self: Any) -> ActionResult:
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    summaries = []
    for resource in _existing_resources(stack):
        view = StackResourceView(stack, resource)
        summaries.append(
            {
                "LogicalResourceId": view.logical_resource_id,
                "PhysicalResourceId": view.physical_resource_id,
                "ResourceType": view.resource_type,
                "LastUpdatedTimestamp": view.last_updated_timestamp,
                "ResourceStatus": view.resource_status,
                "DriftInformation": view.drift_information,
            }
        )
    return ActionResult({"StackResourceSummaries": summaries})


def _patch_stack_resource_answers() -> None:
    # moto gaps: see the module docstring (blank entries, 500 on an unknown logical id, fixed 2010 dates).
    response_cls = cfn_responses.CloudFormationResponse
    for name, action in (
        ("describe_stack_resource", _describe_stack_resource_action),
        ("describe_stack_resources", _describe_stack_resources_action),
        ("list_stack_resources", _list_stack_resources_action),
    ):
        patching.replace(response_cls, name, action)
