"""IAM on the local endpoint: every workload acts under its own role, and its calls are authorised as on AWS.

Modules, one concern each:

- ``patterns``: IAM's wildcard matching (actions case-insensitive, ARNs case-sensitive).
- ``conditions``: the ``Condition`` block: operators, ``IfExists``, ``ForAnyValue``/``ForAllValues``, and
  the keys this endpoint knows the value (or the absence) of; anything else is *undecidable*.
- ``policy``: the evaluation logic (explicit Deny, then an Allow from an identity- or resource-based policy).
- ``resources``: per service, the IAM action(s) and resource ARN(s) a request is authorised for.
- ``requests``: what a client's HTTP request is (service, operation, parameters).
- ``identities``: the sessions the endpoint's STS issues (AssumeRole checked against the trust policy).
- ``store``: the policies that apply (a role's inline and managed ones, bucket and Lambda function policies).
- ``authorizer``: one decision for a principal's request, recorded; the mode (enforce, audit, off).
- ``audit``: every decision, to listeners (``ctx.emit``) and to a JSON-lines file.
- ``answers``: AWS's AccessDenied answer in each protocol.
- ``middleware``: the WSGI middleware that authorises every request made with an issued session's key.
- ``service_access``: what services do on a principal's behalf (S3 and EventBridge invoking a Lambda through
  its resource policy, a target's role, Lambda's own log writes and destinations, a Glue job's role, the
  reasons an Athena query gives when its caller may not); ``states_role``: a state machine's role, checked
  when the machine is created.
- ``denials``: the demo's view (stop at the first enforced denial; the summary's IAM part);
  ``report``: ``pynt iamreport``.

The user's own credentials (any key this endpoint's STS did not issue) act as the account's administrator.
"""

from __future__ import annotations
