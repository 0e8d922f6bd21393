"""The console's routes, as a WSGI app mounted under :data:`PREFIX` in front of moto's app (``mount``).

It is served by the endpoint's own server, so it is on the endpoint's address (127.0.0.1) and port and
needs no configuration: it calls back the endpoint that served the request (``SERVER_NAME``/``SERVER_PORT``).
It answers only loopback clients that name a loopback host (no DNS rebinding), and a form post only from
its own pages (no cross-site starts of an execution).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode, urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import wrap_file

from localaws.console import pages
from localaws.console.asl_graph import DefinitionError, parents, parse_definition
from localaws.console.links import state_links
from localaws.console.reader import Reader, duration_s
from localaws.console.status import execution_view
from localaws.console.svg import render_definition
from localaws.demo.timeline import execution_timeline, timeline_svg

PREFIX = "/_console"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
# StartExecution's name rule: 1-80 characters, none of whitespace, brackets, wildcards and these.
_BAD_NAME = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def mount(app: WSGIApp) -> WSGIApp:
    """moto's app with the console under ``/_console/`` (S3 bucket names cannot start with "_")."""
    return DispatcherMiddleware(app, {PREFIX: ConsoleApp()})


def url(endpoint_url: str) -> str:
    return f"{endpoint_url.rstrip('/')}{PREFIX}/"


def check_execution_name(name: str) -> str | None:
    """Why Step Functions would refuse this execution name, or None."""
    if len(name) > 80:
        return f"the name has {len(name)} characters; at most 80"
    bad = _BAD_NAME.search(name)
    if bad:
        return (
            f"the name may not contain {bad.group()!r} (nor spaces, brackets, wildcards, control characters "
            'or any of "#%\\^|~`$&,;:/)'
        )
    return None


@functools.lru_cache(maxsize=32)
def _graph_svg(definition: str, statuses_json: str) -> str:
    return render_definition(parse_definition(definition), json.loads(statuses_json))


class ConsoleApp:
    def __init__(self) -> None:
        self.url_map = Map(
            [
                Rule("/", endpoint="machines"),
                Rule("/machine", endpoint="machine"),
                Rule("/start", endpoint="start", methods=["POST"]),
                Rule("/execution", endpoint="execution"),
                Rule("/api/execution", endpoint="execution_json"),
                Rule("/timeline", endpoint="timeline"),
                Rule("/glue", endpoint="glue"),
                Rule("/logs", endpoint="logs"),
                Rule("/logs/stream", endpoint="log_stream"),
                Rule("/s3", endpoint="buckets"),
                Rule("/s3/bucket", endpoint="bucket"),
                Rule("/s3/object", endpoint="object"),
            ],
            strict_slashes=False,
        )

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        if not environ.get("PATH_INFO"):  # /_console without its slash: relative links need it
            return Response(status=308, headers={"Location": f"{request.script_root}/"})(
                environ, start_response
            )
        refusal = _refusal(request)
        if refusal:
            return Response(refusal, status=403, mimetype="text/plain")(environ, start_response)
        reader = Reader(f"http://{environ['SERVER_NAME']}:{environ['SERVER_PORT']}")
        try:
            endpoint, args = self.url_map.bind_to_environ(environ).match()
            response = getattr(self, f"on_{endpoint}")(request, reader, **args)
        except HTTPException as exc:
            response = exc.get_response(environ)
        except (ClientError, BotoCoreError, DefinitionError) as exc:
            response = self._html(request, "Error", pages.error_page(str(exc)), status=_status_of(exc))
        return response(environ, start_response)

    @staticmethod
    def _html(request: Request, title: str, body: str, status: int = 200) -> Response:
        html = pages.page(title, body, f"{request.script_root}/")
        return Response(html, status=status, mimetype="text/html", headers={"Cache-Control": "no-store"})

    # --- Step Functions ---------------------------------------------------------------------------------

    def on_machines(self, request: Request, reader: Reader) -> Response:
        machines = reader.state_machines()
        form = pages.start_form(machines, machines[0]["stateMachineArn"] if machines else None)
        return self._html(request, "State machines", pages.machines_page(machines, form))

    def on_machine(self, request: Request, reader: Reader) -> Response:
        arn = _arg(request, "arn")
        machine = reader.state_machine(arn)
        form = pages.start_form(reader.state_machines(), arn)
        body = pages.executions_page(machine, reader.executions(arn), form)
        return self._html(request, machine["name"], body)

    def on_start(self, request: Request, reader: Reader) -> Response:
        machine_arn = request.form.get("machine", "")
        name = request.form.get("name", "").strip()
        input_text = request.form.get("input", "").strip() or "{}"
        problem = check_execution_name(name) if name else None
        if problem is None:
            try:
                json.loads(input_text)
            except ValueError as exc:
                problem = f"the input is not JSON: {exc}"
        if problem is None:
            try:
                arn = reader.start_execution(machine_arn, name or None, input_text)
            except ClientError as exc:
                error = exc.response.get("Error", {})
                problem = f"{error.get('Code', 'Error')}: {error.get('Message', exc)}"
            else:
                return Response(status=303, headers={"Location": f"execution?{urlencode({'arn': arn})}"})
        machines = reader.state_machines()
        form = pages.start_form(machines, machine_arn, name, input_text, error=problem)
        return self._html(request, "Start execution", pages.machines_page(machines, form), status=400)

    def on_execution(self, request: Request, reader: Reader) -> Response:
        arn = _arg(request, "arn")
        execution = reader.execution(arn)
        machine = reader.state_machine(execution["stateMachineArn"])
        view = execution_view(reader.history(arn), parents(parse_definition(machine["definition"])))
        svg = _graph_svg(machine["definition"], json.dumps(view.statuses(), sort_keys=True))
        api = f"api/execution?{urlencode({'arn': arn})}"
        body = pages.execution_page(execution, machine["name"], svg, api)
        return self._html(request, execution["name"], body)

    def on_execution_json(self, request: Request, reader: Reader) -> Response:
        arn = _arg(request, "arn")
        execution = reader.execution(arn)
        machine = reader.state_machine(execution["stateMachineArn"])
        view = execution_view(reader.history(arn), parents(parse_definition(machine["definition"])))
        states = {name: {**run.to_json(), "links": state_links(run)} for name, run in view.states.items()}
        answer = {
            "status": execution["status"],
            "error": execution.get("error") or view.error,
            "cause": execution.get("cause") or view.cause,
            "duration": pages.fmt_duration(duration_s(execution.get("startDate"), execution.get("stopDate"))),
            "states": states,
            "events": view.events,
        }
        return Response(
            json.dumps(answer), mimetype="application/json", headers={"Cache-Control": "no-store"}
        )

    def on_timeline(self, request: Request, reader: Reader) -> Response:
        """The execution's timeline (localaws/demo/timeline.py): each state's wait, hops and run, as SVG."""
        arn = _arg(request, "arn")
        execution = reader.execution(arn)
        machine = execution["stateMachineArn"].rsplit(":", 1)[-1]
        timeline = execution_timeline(machine, reader.history(arn))
        svg = timeline_svg([timeline], title=f"Timeline of {execution['name']}")
        return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})

    # --- Glue, Lambda logs, S3 --------------------------------------------------------------------------

    def on_glue(self, request: Request, reader: Reader) -> Response:
        return self._html(
            request, "Glue job runs", pages.glue_page(reader.glue_job_runs(request.args.get("job")))
        )

    def on_logs(self, request: Request, reader: Reader) -> Response:
        function = request.args.get("function")
        if function:  # from a state: that function's lines, optionally only those about one job run
            group = f"/aws/lambda/{function}"
            text = request.args.get("text")
            body = pages.log_events_page(group, None, text, reader.log_events(group, text=text))
            return self._html(request, group, body)
        groups = reader.lambda_log_groups()
        streams = {g["logGroupName"]: reader.log_streams(g["logGroupName"]) for g in groups}
        return self._html(request, "Lambda logs", pages.logs_page(groups, streams))

    def on_log_stream(self, request: Request, reader: Reader) -> Response:
        group = _arg(request, "group")
        stream, text = request.args.get("stream"), request.args.get("text")
        body = pages.log_events_page(group, stream, text, reader.log_events(group, stream, text))
        return self._html(request, group, body)

    def on_buckets(self, request: Request, reader: Reader) -> Response:
        return self._html(request, "S3 buckets", pages.buckets_page(reader.buckets()))

    def on_bucket(self, request: Request, reader: Reader) -> Response:
        bucket = _arg(request, "name")
        return self._html(request, bucket, pages.objects_page(bucket, reader.objects(bucket)))

    def on_object(self, request: Request, reader: Reader) -> Response:
        bucket, key = _arg(request, "bucket"), _arg(request, "key")
        found = reader.get_object(bucket, key)
        filename = key.rsplit("/", 1)[-1] or "object"
        body = wrap_file(request.environ, found["Body"])
        return Response(
            body,
            mimetype=found.get("ContentType") or "application/octet-stream",
            headers={
                "Content-Length": str(found.get("ContentLength", "")),
                # The key's last part, quoted; a filename* for names that are not plain ASCII.
                "Content-Disposition": f"attachment; filename=\"{_ascii(filename)}\"; filename*=UTF-8''"
                + _quote(filename),
            },
            direct_passthrough=True,
        )


def _arg(request: Request, name: str) -> str:
    value = request.args.get(name)
    if not value:
        raise NotFound(f"the page needs ?{name}=")
    return value


def _ascii(text: str) -> str:
    return "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in text)


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def _status_of(exc: Exception) -> int:
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if "NotFound" in code or "NoSuch" in code or code == "ExecutionDoesNotExist":
            return 404
        return 400
    return 502


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _refusal(request: Request) -> str | None:
    """Why a request is refused: not from this machine, a foreign Host, or a cross-site form post."""
    if not _is_loopback(request.remote_addr or ""):
        return "the console answers only on this machine"
    host = urlsplit(f"//{request.host}").hostname or ""
    if not _is_loopback(host):
        return f"the console answers only as 127.0.0.1 or localhost, not {host}"
    if request.method == "POST":
        origin = request.headers.get("Origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.host:
            return "a form post from another site"
    return None
