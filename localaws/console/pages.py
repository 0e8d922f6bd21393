"""The console's HTML pages: plain HTML, a little inline CSS, and one small inline script on the execution
page that polls its JSON and recolours the graph. Every value shown is escaped (markupsafe)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup, escape

from localaws.console.reader import duration_s
from localaws.console.svg import legend_html, status_css

STYLE = """
body{font-family:sans-serif;margin:0;color:#16191f;background:#f2f3f3}
header{background:#232f3e;color:#fff;padding:10px 20px;display:flex;gap:24px;align-items:center}
header a{color:#fff;text-decoration:none} header b{margin-right:16px}
main{padding:16px 20px} h1{font-size:22px;margin:4px 0 12px} h2{font-size:17px;margin:18px 0 8px}
table{border-collapse:collapse;background:#fff;font-size:13px}
th,td{border:1px solid #d5dbdb;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#fafafa} td.num{text-align:right}
.card{background:#fff;border:1px solid #d5dbdb;border-radius:6px;padding:12px 16px;margin-bottom:14px}
.error{color:#d13212;font-weight:bold;white-space:pre-wrap}
.status-RUNNING{color:#0972d3}.status-SUCCEEDED{color:#1d8102}.status-FAILED,.status-TIMED_OUT{color:#d13212}
.status-ABORTED{color:#687078}
.legend{display:flex;flex-wrap:wrap;gap:14px;font-size:13px;margin:6px 0 10px}
.legend-item{display:flex;align-items:center;gap:5px}
.swatch{display:inline-block;width:18px;height:12px;border:2px solid;border-radius:3px}
.swatch.st-waiting,.swatch.st-cancelled{border-style:dashed}
.layout{display:flex;gap:16px;align-items:flex-start;flex-wrap:wrap}
.graph-card{overflow:auto} g.state{cursor:pointer} g.state.selected > rect.shape{stroke-width:4}
#details{min-width:340px;max-width:560px;flex:1} #details a{word-break:break-all}
pre{white-space:pre-wrap;word-break:break-all;
background:#f7f7f7;padding:6px;margin:2px 0 8px;font-size:12px;max-height:260px;overflow:auto}
form label{display:block;margin:6px 0 2px;font-size:13px} textarea{width:100%;max-width:560px;height:90px}
input[type=text],select{width:100%;max-width:560px} button{margin-top:8px;padding:6px 14px}
"""


def fmt_time(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return "" if value is None else str(value)


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def page(title: str, body: str, base: str) -> str:
    """A whole page; ``base`` is the console's root URL path (links inside are relative to it)."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><base href="{escape(base)}">
<title>{escape(title)} · local Step Functions console</title>
<style>{STYLE}{status_css()}</style></head>
<body><header><b>Local AWS console</b><a href="./">State machines</a><a href="glue">Glue job runs</a>
<a href="logs">Lambda logs</a><a href="s3">S3 buckets</a></header>
<main>{body}</main></body></html>"""


def status_span(status: str) -> Markup:
    return Markup(f'<span class="status-{escape(status)}">{escape(status)}</span>')


def start_form(
    machines: list[dict[str, Any]],
    selected: str | None,
    name: str = "",
    input_text: str = "{}",
    error: str | None = None,
) -> str:
    options = "".join(
        f'<option value="{escape(m["stateMachineArn"])}"'
        f"{' selected' if m['stateMachineArn'] == selected else ''}>{escape(m['name'])}</option>"
        for m in machines
    )
    problem = f'<p class="error" id="start-error">{escape(error)}</p>' if error else ""
    return f"""<div class="card"><h2>Start execution</h2>{problem}
<form method="post" action="start" id="start-form">
<label for="machine">State machine</label><select id="machine" name="machine">{options}</select>
<label for="name">Name (optional: a unique one is made)</label>
<input type="text" id="name" name="name" value="{escape(name)}" maxlength="80">
<label for="input">Input (JSON)</label><textarea id="input" name="input">{escape(input_text)}</textarea>
<br><button type="submit" id="start">Start execution</button></form></div>"""


def machines_page(machines: list[dict[str, Any]], form: str) -> str:
    rows = "".join(
        f'<tr><td><a href="machine?{urlencode({"arn": m["stateMachineArn"]})}">{escape(m["name"])}</a></td>'
        f"<td>{escape(m.get('type', ''))}</td><td>{fmt_time(m.get('creationDate'))}</td></tr>"
        for m in machines
    )
    table = (
        f'<table id="machines"><tr><th>Name</th><th>Type</th><th>Created</th></tr>{rows}</table>'
        if machines
        else "<p>No state machines yet: deploy the stacks (<code>pynt deployall</code>).</p>"
    )
    return f"<h1>State machines</h1>{form}<div class='card'>{table}</div>"


def executions_page(machine: dict[str, Any], executions: list[dict[str, Any]], form: str) -> str:
    rows = []
    for e in executions:
        href = f"execution?{urlencode({'arn': e['executionArn']})}"
        rows.append(
            f'<tr><td><a href="{escape(href)}">{escape(e["name"])}</a></td>'
            f"<td>{status_span(e['status'])}</td>"
            f"<td>{fmt_time(e.get('startDate'))}</td><td>{fmt_time(e.get('stopDate'))}</td>"
            f'<td class="num">{fmt_duration(duration_s(e.get("startDate"), e.get("stopDate")))}</td></tr>'
        )
    table = (
        '<table id="executions"><tr><th>Name</th><th>Status</th><th>Started</th><th>Ended</th>'
        f"<th>Duration</th></tr>{''.join(rows)}</table>"
        if rows
        else "<p>No executions yet.</p>"
    )
    return (
        f"<h1>{escape(machine['name'])}</h1><p><code>{escape(machine['stateMachineArn'])}</code></p>{form}"
        f"<div class='card'><h2>Executions (newest first)</h2>{table}</div>"
    )


def execution_page(execution: dict[str, Any], machine_name: str, svg: str, api_url: str) -> str:
    machine_href = f"machine?{urlencode({'arn': execution['stateMachineArn']})}"
    timeline_href = f"timeline?{urlencode({'arn': execution['executionArn']})}"
    status = escape(execution["status"])
    return f"""<h1><a href="{escape(machine_href)}">{escape(machine_name)}</a> ›
{escape(execution["name"])}</h1>
<div class="card">Status: <b id="exec-status" class="status-{status}">{status}</b>
· started {fmt_time(execution.get("startDate"))} · duration <span id="exec-duration"></span>
· <a id="exec-timeline" href="{escape(timeline_href)}">timeline</a>
<div id="exec-error" class="error"></div></div>
<div class="layout"><div class="card graph-card"><h2>Graph</h2>{legend_html()}{svg}</div>
<div class="card" id="details"><h2>State</h2><p id="details-hint">Click a state to see its input, output,
error and cause.</p><div id="details-body"></div></div></div>
<div class="card"><h2>Event history</h2><table id="events"><thead><tr><th>ID</th><th>Type</th><th>State</th>
<th>Detail</th><th>Elapsed (ms)</th><th>Time</th></tr></thead><tbody></tbody></table></div>
<script>{_EXECUTION_SCRIPT.replace("__API__", json.dumps(api_url))}</script>"""


# Polls the execution's JSON every second while it runs: recolours states, refreshes the event table and
# the selected state's details. Builds DOM nodes with textContent only (no HTML from data).
_EXECUTION_SCRIPT = """
const API = __API__;
let data = null, selected = null;
function el(tag, text, cls) { const e = document.createElement(tag); if (text != null) e.textContent = text;
  if (cls) e.className = cls; return e; }
function pretty(text) { try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; } }
function showDetails() {
  const body = document.getElementById('details-body'); body.replaceChildren();
  if (!selected || !data) return;
  document.getElementById('details-hint').hidden = true;
  const run = data.states[selected];
  body.append(el('h3', selected));
  if (!run) { body.append(el('p', 'not reached')); return; }
  const attempts = run.attempts > 1 ? ' · ' + run.attempts + ' attempts' : '';
  body.append(el('p', run.type + ' · ' + run.status_label + attempts, 'detail-status'));
  if (run.worker) body.append(el('p', 'worker: ' + run.worker));
  for (const [label, key] of [['Error', 'error'], ['Cause', 'cause'], ['Input', 'input'],
                              ['Task input', 'task_input'], ['Output', 'output']]) {
    if (run[key] == null) continue;
    body.append(el('b', label)); body.append(el('pre', pretty(run[key]), 'detail-' + key));
  }
  for (const link of run.links) { const a = el('a', link.label); a.href = link.href;
    const p = el('p'); p.append(a); body.append(p); }
}
function render() {
  document.querySelectorAll('g.state').forEach(g => {
    const run = data.states[g.dataset.state];
    const status = run ? run.status : 'notreached';
    const group = g.classList.contains('group') ? 'group ' : '';
    const chosen = g.dataset.state === selected ? ' selected' : '';
    g.setAttribute('class', 'state ' + group + 'st-' + status + chosen);
  });
  const status = document.getElementById('exec-status');
  status.textContent = data.status; status.className = 'status-' + data.status;
  document.getElementById('exec-duration').textContent = data.duration;
  const failure = data.error ? data.error + ': ' + (data.cause || '') : '';
  document.getElementById('exec-error').textContent = failure;
  const tbody = document.querySelector('#events tbody'); tbody.replaceChildren();
  for (const row of data.events) {
    const tr = el('tr'); tr.dataset.type = row.type;
    for (const v of [row.id, row.type, row.state || '', row.detail, row.elapsed_ms, row.time]) {
      tr.append(el('td', v));
    }
    tbody.append(tr);
  }
  showDetails();
}
async function refresh() {
  try {
    const answer = await fetch(API, {cache: 'no-store'});
    if (answer.ok) { data = await answer.json(); render(); }
  } catch (e) { /* the endpoint stopped or is busy: try again */ }
  if (!data || data.status === 'RUNNING') setTimeout(refresh, 1000);
}
document.querySelectorAll('g.state').forEach(g => g.addEventListener('click', () => {
  selected = g.dataset.state; if (data) render(); }));
refresh();
"""


def glue_page(runs: dict[str, list[dict[str, Any]]]) -> str:
    sections = []
    for job, job_runs in runs.items():
        rows = "".join(
            f'<tr id="run-{escape(r["Id"])}"><td><code>{escape(r["Id"])}</code></td>'
            f"<td>{status_span(r.get('JobRunState', ''))}</td><td>{fmt_time(r.get('StartedOn'))}</td>"
            f'<td class="num">{fmt_duration(duration_s(r.get("StartedOn"), r.get("CompletedOn")))}</td>'
            f'<td class="error">{escape(r.get("ErrorMessage", ""))}</td></tr>'
            for r in job_runs
        )
        table = (
            "<table><tr><th>Run</th><th>State</th><th>Started</th><th>Duration</th><th>Error</th></tr>"
            f"{rows}</table>"
            if rows
            else "<p>No runs.</p>"
        )
        sections.append(
            f'<div class="card glue-job" data-job="{escape(job)}"><h2>{escape(job)}</h2>{table}</div>'
        )
    return "<h1>Glue job runs</h1>" + ("".join(sections) or "<p>No Glue jobs.</p>")


def logs_page(groups: list[dict[str, Any]], streams: dict[str, list[dict[str, Any]]]) -> str:
    cards = []
    for group in groups:
        name = group["logGroupName"]
        rows = "".join(
            f'<tr><td><a href="{_stream_href(name, s["logStreamName"])}">'
            f"{escape(s['logStreamName'])}</a></td><td>{_ms_time(s.get('lastEventTimestamp'))}</td></tr>"
            for s in streams.get(name, [])
        )
        search = escape(f"logs/stream?{urlencode({'group': name})}")
        cards.append(
            f'<div class="card"><h2>{escape(name)}</h2><p><a href="{search}">all its lines</a></p>'
            f"<table><tr><th>Log stream</th><th>Last event</th></tr>{rows}</table></div>"
        )
    return "<h1>Lambda log streams</h1>" + ("".join(cards) or "<p>No Lambda log groups.</p>")


def _stream_href(group: str, stream: str) -> Markup:
    return escape(f"logs/stream?{urlencode({'group': group, 'stream': stream})}")


def log_events_page(group: str, stream: str | None, text: str | None, events: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{_ms_time(e.get('timestamp'))}</td><td>{escape(e.get('logStreamName', ''))}</td>"
        f"<td><pre>{escape(e.get('message', '').rstrip())}</pre></td></tr>"
        for e in events
    )
    what = f"stream {stream}" if stream else "all streams"
    if text:
        what += f", lines holding “{text}”"
    return (
        f"<h1>{escape(group)}</h1><p>{escape(what)} · {len(events)} lines</p>"
        '<div class="card"><table id="log-events"><tr><th>Time</th><th>Stream</th><th>Message</th></tr>'
        f"{rows}</table></div>"
    )


def _ms_time(ms: Any) -> str:
    if not isinstance(ms, int | float):
        return ""
    return fmt_time(dt.datetime.fromtimestamp(ms / 1000, dt.UTC))


def buckets_page(buckets: list[dict[str, Any]]) -> str:
    rows = "".join(
        f'<tr><td><a href="s3/bucket?{escape(urlencode({"name": b["Name"]}))}">{escape(b["Name"])}</a></td>'
        f"<td>{fmt_time(b.get('CreationDate'))}</td></tr>"
        for b in buckets
    )
    return (
        '<h1>S3 buckets</h1><div class="card"><table id="buckets"><tr><th>Bucket</th><th>Created</th></tr>'
        f"{rows}</table></div>"
    )


def objects_page(bucket: str, objects: list[dict[str, Any]]) -> str:
    rows = "".join(
        f'<tr><td><a href="s3/object?{escape(urlencode({"bucket": bucket, "key": o["Key"]}))}" download>'
        f"{escape(o['Key'])}</a></td><td class='num'>{o.get('Size', 0):,}</td>"
        f"<td>{fmt_time(o.get('LastModified'))}</td></tr>"
        for o in objects
    )
    return (
        f"<h1>s3://{escape(bucket)}</h1><div class='card'><table id='objects'><tr><th>Key (download)</th>"
        f"<th>Bytes</th><th>Last modified</th></tr>{rows}</table></div>"
    )


def error_page(message: str) -> str:
    return f'<h1>Not shown</h1><p class="error">{escape(message)}</p>'
