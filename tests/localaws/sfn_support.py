"""What the Step Functions bridge tests share: the role every test state machine names, and its creation."""

from __future__ import annotations

import json

ROLE_ARN = "arn:aws:iam::123456789012:role/sfn-role"


def create_machine(sfn, unique_name, definition: dict) -> str:
    """A new state machine of this definition (a unique name); returns its ARN."""
    return sfn.create_state_machine(
        name=unique_name("Machine"), definition=json.dumps(definition), roleArn=ROLE_ARN
    )["stateMachineArn"]
