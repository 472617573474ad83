# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""The audit report: per-host summaries of what the mail role found, as Markdown and one HTML page.

Input is the ``mail_report`` fact the role sets on each host (the registered results of every
step). Only keys a module documents in its RETURN (or the shared mailwright.smtp.result fragment)
are read, so a renamed key shows up in the docs and here together. Everything here is pure Python (stdlib only), so it is unit-testable without Ansible:

* ``summarise(facts)`` turns one host's facts into a small, stable summary;
* ``drift(previous, current)`` lists what changed between two summaries (volatile values such as
  timings and "days left" are ignored);
* ``render_host_markdown`` / ``render_index_markdown`` / ``render_html`` produce the documents;
* ``build_reports(...)`` does all of it for a set of hosts and returns the files to write.

Secrets never reach a report: the value under every secret-looking key (``_redact.is_secret_name``:
password, store_password, client_secret, token, ...) is replaced by ``********`` whatever it is
(a number, a list, a mapping), and any value given in ``secrets`` is replaced wherever it occurs.
"""

from __future__ import annotations

import html
import json
import re
import typing as t

from ansible_collections.mailwright.smtp.plugins.module_utils._core.redact import REDACTED, is_secret_name, redact_text

__all__ = [
    'REDACTED',
    'scrub',
    'summarise',
    'comparable',
    'drift',
    'render_host_markdown',
    'render_index_markdown',
    'render_html',
    'build_reports',
    'differences',
    'status_of',
]

REPORT_FORMAT = 1

# Values that change on every run without anything having drifted.
_VOLATILE = re.compile(r'(^|\.)(generated|age_seconds|note|elapsed_ms|connect_ms|days_left|seconds|polls|checked_at|time_ms|duration_ms)$')


def scrub(value: t.Any, secrets: t.Iterable[str] = ()) -> t.Any:
    """Deep copy of ``value`` with secret-looking keys and the given secret strings replaced."""
    secrets = list(secrets)

    def text(item: str) -> str:
        return redact_text(item, secrets)

    def walk(item: t.Any) -> t.Any:
        if isinstance(item, dict):
            out = {}
            for key, sub in item.items():
                # Whatever the value: a numeric password, or a list of old ones, is still a secret.
                # None and '' stay as they are (nothing to hide, and "no password" is worth reading).
                if is_secret_name(key) and sub not in (None, ''):
                    out[str(key)] = REDACTED
                else:
                    out[str(key)] = walk(sub)
            return out
        if isinstance(item, (list, tuple)):
            return [walk(sub) for sub in item]
        if isinstance(item, str):
            return text(item)
        return item

    return walk(value)


def _state(result: dict | None) -> str:
    """One word for a step result: skipped, failed, changed (would change in check mode), ok."""
    if not result:
        return 'not run'
    if result.get('skipped'):
        return 'skipped'
    if result.get('failed'):
        return 'failed'
    if result.get('changed'):
        return 'changed'
    return 'ok'


def _message(item: t.Any) -> str:
    """One line for a finding: settings_validate's {path, message, hint} or smtp_probe's {step, text, ...}."""
    if isinstance(item, dict):
        for key in ('message', 'text'):
            if item.get(key):
                prefix = item.get('path') or item.get('step') or ''
                return f'{prefix}: {item[key]}' if prefix else str(item[key])
        return json.dumps(item, sort_keys=True)
    return str(item)


def _certificate(cert: dict | None) -> dict | None:
    if not isinstance(cert, dict):
        return None
    return {key: cert.get(key) for key in ('subject', 'issuer', 'sha256', 'not_after', 'days_left', 'self_signed')
            if key in cert}


def _rendered(steps: dict, paths: dict) -> list[dict]:
    """What the render steps did: one entry per step that ran (module results: see their RETURN)."""
    targets = [
        ('server_xml', 'JNDI mail Resource', paths.get('server_xml')),
        ('setenv', 'JVM truststore options (managed block)', paths.get('setenv')),
        ('bitbucket_api', 'Bitbucket mail server (REST)', paths.get('api')),
        ('properties', 'mail properties', paths.get('properties')),
        ('ghes', 'GHES smtp settings', paths.get('api') or paths.get('ghes_script') or 'ghe-config commands'),
    ]
    rendered = []
    for step, what, where in targets:
        result = steps.get(step)
        state = _state(result)
        if not result or state in ('not run', 'skipped'):
            continue
        entry = {'what': what, 'where': where, 'state': state}
        if step == 'server_xml':
            entry['detail'] = {key: result.get(key) for key in ('action', 'context', 'line') if key in result}
        elif step == 'properties':
            entry['detail'] = {'set_keys': result.get('set_keys', []), 'removed_keys': result.get('removed_keys', [])}
        elif step in ('bitbucket_api', 'ghes'):
            entry['detail'] = {'differences': result.get('differences', []), 'requests': result.get('requests', [])}
        rendered.append(entry)
    return rendered


def _truststore(trust: dict, paths: dict) -> dict:
    """truststore_cert's result."""
    certificates = trust.get('certificates') or ([trust['certificate']] if trust.get('certificate') else [])
    return {
        'state': _state(trust), 'path': trust.get('path') or paths.get('truststore'),
        'store_type': trust.get('store_type'), 'alias': trust.get('alias'),
        'entries': trust.get('entries_after'),
        'actions': trust.get('actions') or [],
        'certificates': [c for c in (_certificate(cert) for cert in certificates) if c],
    }


def _dns(dns: dict, paths: dict) -> dict:
    """dns_check's result: its documented checks (check, status, message, records, kind)."""
    checks = []
    for check in dns.get('checks') or []:
        if not isinstance(check, dict):
            continue
        records = check.get('records') or []
        checks.append({'check': check.get('name'),
                       'status': check.get('status'),
                       'records': [str(r) for r in records] if isinstance(records, list) else [str(records)],
                       'message': check.get('summary') or check.get('error_kind') or ''})
    return {'state': _state(dns), 'status': dns.get('status'), 'checks': checks}


def _probe(probe: dict, paths: dict) -> dict:
    """smtp_probe's result: one entry per RV(results) target."""
    targets_out = []
    for target in probe.get('results') or []:
        tls = target.get('tls') or {}
        credentials = target.get('credentials') or {}
        targets_out.append({
            'target': target.get('target'), 'status': target.get('status'), 'step': target.get('step'),
            'connect_ms': target.get('connect_ms'), 'banner': target.get('banner'),
            'starttls_offered': target.get('starttls_offered'), 'auth_mechanisms': target.get('auth_mechanisms'),
            'tls': {key: tls.get(key) for key in ('version', 'cipher', 'verified', 'verify_error')},
            'certificate': _certificate(target.get('certificate')),
            'credentials': {key: credentials.get(key) for key in ('checked', 'ok', 'mechanism')},
            'errors': [_message(e) for e in target.get('errors') or []],
            'warnings': [_message(w) for w in target.get('warnings') or []],
        })
    return {'state': _state(probe), 'msg': probe.get('msg'), 'targets': targets_out}


def _proof(proof: dict, paths: dict) -> dict:
    """test_send's result: RV(proof) (the marker's last proof), falling back to the top-level keys."""
    last = proof.get('proof')
    if not isinstance(last, dict):
        last = {}
    reply = last.get('reply') or {}
    return {
        'state': _state(proof),
        'time': last.get('time'),
        'age_seconds': last.get('age_seconds'),
        'message_id': last.get('message_id'),
        'relay': last.get('relay') or proof.get('relay'),
        'recipients': last.get('recipients') or proof.get('recipients'),
        'reply': f"{reply.get('code')} {reply.get('text')}" if isinstance(reply, dict) and reply else reply or None,
        'fingerprint': last.get('fingerprint') or proof.get('fingerprint'),
        'marker': proof.get('marker_path'),
        'note': proof.get('reason') or (proof.get('msg') if proof.get('failed') else None),
    }


def _info(info: dict, paths: dict) -> dict:
    """mail_info's result: the drift against the settings, the last proof, the findings."""
    proof = info.get('proof') if isinstance(info.get('proof'), dict) else None
    return {
        'state': _state(info),
        'drift': [{'path': d.get('path'), 'current': d.get('current'), 'desired': d.get('desired'),
                   'masked': bool(d.get('masked'))} for d in info.get('drift') or [] if isinstance(d, dict)],
        'proof': None if proof is None else {key: proof.get(key) for key in (
            'found', 'time', 'age_seconds', 'message_id', 'proves_settings', 'current', 'marker_path')},
        'findings': [_message(f) for f in info.get('findings') or []],
        'unknown': list(info.get('unknown') or []),
    }


def summarise(facts: dict, *, secrets: t.Iterable[str] = ()) -> dict:
    """The stable summary of one host's ``mail_report`` fact."""
    facts = scrub(facts or {}, secrets)
    steps: dict = facts.get('steps') or {}
    paths: dict = facts.get('paths') or {}
    validate = steps.get('validate') or {}
    summary: dict[str, t.Any] = {
        'format': REPORT_FORMAT,
        'host': facts.get('host'),
        'product': facts.get('product'),
        'check_mode': bool(facts.get('check_mode')),
        'settings': validate.get('effective'),
        'settings_errors': [_message(e) for e in validate.get('errors') or []],
        'settings_warnings': [_message(w) for w in validate.get('warning_details') or []],
        'failed': None,
        'rendered': [],
        'truststore': None,
        'dns': None,
        'probe': None,
        'proof': None,
        'info': None,
        'manual_steps': list(facts.get('manual_steps') or []),
    }
    for name, result in steps.items():
        if isinstance(result, dict) and result.get('failed'):
            summary['failed'] = {'step': name, 'msg': str(result.get('msg', ''))[:2000]}
            break
    if facts.get('failed') and not summary['failed']:
        summary['failed'] = {'step': 'unknown', 'msg': str(facts.get('failed'))[:2000]}
    summary['rendered'] = _rendered(steps, paths)
    for key, step, part in (('truststore', 'trust', _truststore), ('dns', 'dns', _dns), ('probe', 'probe', _probe),
                            ('proof', 'proof', _proof), ('info', 'info', _info)):
        result = steps.get(step)
        if result and _state(result) not in ('not run', 'skipped'):
            summary[key] = part(result, paths)
    return scrub(summary, secrets)


def _flatten(value: t.Any, prefix: str = '') -> dict[str, t.Any]:
    flat: dict[str, t.Any] = {}
    if isinstance(value, dict):
        for key, sub in value.items():
            flat.update(_flatten(sub, f'{prefix}.{key}' if prefix else str(key)))
    elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        for index, sub in enumerate(value):
            flat.update(_flatten(sub, f'{prefix}[{index}]'))
    else:
        flat[prefix] = value
    return flat


def comparable(summary: dict) -> dict[str, t.Any]:
    """Flat path -> value view without volatile values (timings, days left, run mode)."""
    flat = _flatten({key: value for key, value in summary.items() if key not in ('check_mode', 'generated')})
    return {path: value for path, value in flat.items() if not _VOLATILE.search(path)}


def drift(previous: dict | None, current: dict) -> list[str]:
    """What changed since the previous report, one line per value."""
    if not previous:
        return []
    before, after = comparable(previous), comparable(current)
    lines = []
    for path in sorted(set(before) | set(after)):
        if before.get(path) != after.get(path):
            lines.append(f'{path}: {_short(before.get(path))} -> {_short(after.get(path))}')
    return lines


def _short(value: t.Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= 120 else text[:117] + '...'


def differences(summary: dict) -> list[str]:
    """How the host differs from its settings, one readable line each: the fields mail_info found, and
    every step the check-mode run would change."""
    lines = []
    for item in (summary.get('info') or {}).get('drift') or []:
        if item.get('masked'):
            lines.append(f'{item["path"]}: differs (secret, not shown)')
        else:
            lines.append(f'{item["path"]}: {_text(item.get("current"))} (settings: {_text(item.get("desired"))})')
    if summary.get('check_mode'):
        for item in summary.get('rendered', []):
            if item['state'] == 'changed':
                lines.append(f'{item["what"]} would change ({item["where"]})')
        if (summary.get('truststore') or {}).get('state') == 'changed':
            lines.append('truststore would change')
    return lines


def proven(summary: dict) -> bool:
    """Whether the last proof of delivery is a proof of these settings and recent enough."""
    proof = summary.get('proof')
    if proof and proof.get('state') == 'changed':
        return False  # test_send would send: no current proof of these settings
    info_proof = (summary.get('info') or {}).get('proof')
    if proof and info_proof is not None:
        return bool(info_proof.get('current'))
    return True  # the proof step is not part of this host's run


def status_of(summary: dict) -> str:
    """ok only when the host matches its settings and the proof is current; else failing, drift, unproven."""
    if summary.get('failed'):
        return 'failing'
    if differences(summary):
        return 'drift'
    if not proven(summary):
        return 'unproven'
    return 'ok'


def _text(value: t.Any) -> str:
    """A value as a person reads it: no JSON braces or quotes."""
    if value is None:
        return '(none)'
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    if isinstance(value, dict):
        return ', '.join(f'{k}: {_text(v)}' for k, v in value.items() if v not in (None, [], {})) or '(none)'
    if isinstance(value, (list, tuple)):
        return ', '.join(_text(v) for v in value) or '(none)'
    return str(value)


_TLS_WORDS = {'none': 'no TLS', 'opportunistic': 'STARTTLS if offered', 'required': 'STARTTLS required'}


def _tls_text(server: dict) -> str:
    if server.get('protocol') == 'smtps':
        return 'SMTPS (TLS from the first byte)'
    return _TLS_WORDS.get(str(server.get('tls')), str(server.get('tls')))


def _age_text(seconds: t.Any) -> str:
    if not isinstance(seconds, (int, float)):
        return ''
    days = int(seconds // 86400)
    if days >= 1:
        return f'{days} day{"s" if days != 1 else ""} ago'
    hours = int(seconds // 3600)
    return f'{hours} hour{"s" if hours != 1 else ""} ago' if hours else 'less than an hour ago'


def _proof_text(summary: dict) -> str:
    proof = summary.get('proof') or {}
    info_proof = (summary.get('info') or {}).get('proof') or {}
    when = proof.get('time') or info_proof.get('time')
    if not when:
        return 'none on record' if proof or info_proof else 'not part of this run'
    age = _age_text(proof.get('age_seconds') if proof.get('age_seconds') is not None else info_proof.get('age_seconds'))
    text = f'{when} ({age})' if age else str(when)
    if info_proof.get('proves_settings') is False:
        text += ', of other settings'
    return text


# --- Markdown -------------------------------------------------------------------------------------

def _md(value: t.Any) -> str:
    return _text(value).replace('|', '\\|').replace('\n', ' ')


def _settings_rows(settings: dict | None) -> list[tuple[str, str]]:
    if not settings:
        return []
    return [(path, _md(value)) for path, value in sorted(_flatten(settings).items())
            if value not in (None, [], {})]


def render_host_markdown(summary: dict, drift_lines: list[str], *, generated: str) -> str:
    status = status_of(summary)
    out = [f'# Mail audit: {summary["host"]}', '',
           f'- product: {summary.get("product") or "?"}',
           f'- status: **{status}**',
           f'- generated: {generated}' + (' (check mode: nothing was changed)' if summary.get('check_mode') else ''), '']
    if summary.get('failed'):
        out += ['## Failed', '', f'Step `{summary["failed"]["step"]}`: {_md(summary["failed"]["msg"])}', '']
    if summary.get('settings_errors'):
        out += ['## Settings errors', ''] + [f'- {_md(e)}' for e in summary['settings_errors']] + ['']
    out += ['## Drift from the settings', '']
    out += [f'- {_md(line)}' for line in differences(summary)] or [
        'None: the host matches its settings.' if summary.get('info') or summary.get('check_mode')
        else 'Not checked (run playbooks/audit.yml to compare the host with its settings).']
    info = summary.get('info') or {}
    if info.get('findings'):
        out += ['', '## Findings', ''] + [f'- {_md(f)}' for f in info['findings']]
    out += ['', '## Changed since the previous report', '']
    out += [f'- {_md(line)}' for line in drift_lines] or ['Nothing (or no previous report).']
    out += ['', '## Effective settings (secrets redacted)', '', '| field | value |', '| --- | --- |']
    out += [f'| `{path}` | {value} |' for path, value in _settings_rows(summary.get('settings'))] or ['| (none: the settings did not validate) | |']
    if summary.get('settings_warnings'):
        out += ['', 'Warnings:', ''] + [f'- {_md(w)}' for w in summary['settings_warnings']]
    out += ['', '## Rendered', '', '| what | where | state | detail |', '| --- | --- | --- | --- |']
    out += [f'| {_md(item["what"])} | `{_md(item["where"])}` | {item["state"]} | {_md(item.get("detail", {}))} |'
            for item in summary.get('rendered', [])] or ['| (nothing rendered) | | | |']
    out += ['', '## Truststore', '']
    trust = summary.get('truststore')
    if trust:
        out += [f'- store: `{trust["path"]}` ({trust.get("store_type") or "?"}, {trust.get("entries")} entries), state: {trust["state"]}']
        out += ['', '| alias/subject | SHA-256 | expires | days left |', '| --- | --- | --- | --- |']
        out += [f'| {_md(c.get("subject"))} | `{c.get("sha256")}` | {c.get("not_after")} | {c.get("days_left")} |'
                for c in trust['certificates']]
    else:
        out.append('Not managed on this host.')
    out += ['', '## DNS', '']
    dns = summary.get('dns')
    if dns:
        out += ['| check | status | records | note |', '| --- | --- | --- | --- |']
        out += [f'| {_md(c["check"])} | {c["status"]} | {_md(", ".join(c["records"]))} | {_md(c["message"])} |'
                for c in dns['checks']]
    else:
        out.append('Not checked.')
    out += ['', '## SMTP probe', '']
    probe = summary.get('probe')
    if probe:
        out += ['| target | status | TLS | certificate | AUTH | notes |', '| --- | --- | --- | --- | --- | --- |']
        for target in probe['targets']:
            cert = target.get('certificate') or {}
            tls = target['tls']
            out.append(f'| {_md(target["target"])} | {target["status"]} | {tls.get("version") or "none"}'
                       f'{" verified" if tls.get("verified") else ""} | {_md(cert.get("subject") or "")}'
                       f' {("(" + str(cert.get("days_left")) + " days left)") if cert else ""} |'
                       f' {_md(target["credentials"])} | {_md("; ".join(target["errors"] + target["warnings"]))} |')
    else:
        out.append('Not probed.')
    out += ['', '## Last proof of delivery', '']
    proof = summary.get('proof')
    if proof:
        out += [f'- {key}: {_md(value)}' for key, value in proof.items() if value not in (None, '', [])]
    else:
        out.append('No test message on record.')
    if summary.get('manual_steps'):
        out += ['', '## Manual steps', ''] + [f'- {_md(step)}' for step in summary['manual_steps']]
    return '\n'.join(out) + '\n'


def render_index_markdown(rows: list[dict], *, generated: str, title: str) -> str:
    out = [f'# {title}', '', f'Generated {generated}.', '',
           '| host | product | status | what differs | relay | TLS | last proof | changed since the previous report |',
           '| --- | --- | --- | --- | --- | --- | --- | --- |']
    for row in rows:
        out.append(f'| [{row["host"]}]({row["host"]}.md) | {row["product"]} | {row["status"]} |'
                   f' {_md("; ".join(row["what"]) or "-")} | {_md(row["relay"])} |'
                   f' {_md(row["tls"])} | {_md(row["proof"])} | {_md(_changes_text(row["changes"]))} |')
    counts: dict[str, int] = {}
    for row in rows:
        counts[row['status']] = counts.get(row['status'], 0) + 1
    out += ['', 'Totals: ' + ', '.join(f'{count} {status}' for status, count in sorted(counts.items())), '']
    return '\n'.join(out)


# --- HTML (one self-contained page: inline CSS, no scripts, no external assets) --------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#d0d7de}main{padding:18px 28px;max-width:1200px}
section.host{background:#fff;border:1px solid #d0d7de;border-radius:8px;margin:0 0 18px;padding:4px 18px 14px}
h2{font-size:18px;margin:14px 0 6px}h3{font-size:15px;margin:14px 0 6px;color:#57606a}
table{border-collapse:collapse;width:100%;margin:4px 0 8px}th,td{border:1px solid #d0d7de;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f6f8fa;font-weight:600}code{font:12px ui-monospace,monospace}
.badge{display:inline-block;border-radius:10px;padding:1px 9px;font-size:12px;font-weight:600;color:#fff}
.ok,.pass{background:#1a7f37}.drift,.warn,.changed,.unproven{background:#9a6700}.failed,.fail,.failing{background:#cf222e}
.skipped,.not-run,.none{background:#6e7781}ul{margin:4px 0 8px;padding-left:20px}.muted{color:#57606a}
"""


def _e(value: t.Any) -> str:
    return html.escape(_text(value), quote=True)


def _changes_text(changes: list[str]) -> str:
    if not changes:
        return 'nothing'
    return f'{len(changes)} value{"s" if len(changes) != 1 else ""}: ' + '; '.join(changes[:3]) + (
        '; ...' if len(changes) > 3 else '')


def _badge(status: t.Any) -> str:
    word = str(status or 'none')
    return f'<span class="badge {_e(word.replace(" ", "-"))}">{_e(word)}</span>'


def _table(headers: t.Sequence[str], rows: t.Sequence[t.Sequence[str]]) -> str:
    head = ''.join(f'<th>{_e(h)}</th>' for h in headers)
    body = ''.join('<tr>' + ''.join(f'<td>{cell}</td>' for cell in row) + '</tr>' for row in rows)
    return f'<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _host_html(summary: dict, drift_lines: list[str]) -> str:
    status = status_of(summary)
    host = summary['host']
    parts = [f'<section class="host" id="{_e(host)}"><h2>{_e(host)} {_badge(status)}</h2>',
             f'<p class="muted">product {_e(summary.get("product") or "?")}'
             + (' &middot; check mode: nothing was changed' if summary.get('check_mode') else '') + '</p>']
    if summary.get('failed'):
        parts.append(f'<h3>Failed</h3><p>step <code>{_e(summary["failed"]["step"])}</code>: {_e(summary["failed"]["msg"])}</p>')
    if summary.get('settings_errors'):
        parts.append('<h3>Settings errors</h3><ul>' + ''.join(f'<li>{_e(e)}</li>' for e in summary['settings_errors']) + '</ul>')
    parts.append('<h3>Drift from the settings</h3>')
    lines = differences(summary)
    parts.append('<ul>' + ''.join(f'<li><code>{_e(line)}</code></li>' for line in lines) + '</ul>'
                 if lines else '<p class="muted">None: the host matches its settings.</p>')
    findings = (summary.get('info') or {}).get('findings') or []
    if findings:
        parts.append('<h3>Findings</h3><ul>' + ''.join(f'<li>{_e(f)}</li>' for f in findings) + '</ul>')
    parts.append('<h3>Changed since the previous report</h3>')
    parts.append('<ul>' + ''.join(f'<li><code>{_e(line)}</code></li>' for line in drift_lines) + '</ul>'
                 if drift_lines else '<p class="muted">Nothing (or no previous report).</p>')
    parts.append('<h3>Effective settings (secrets redacted)</h3>')
    rows = _settings_rows(summary.get('settings'))
    parts.append(_table(['field', 'value'], [[f'<code>{_e(path)}</code>', _e(value)] for path, value in rows])
                 if rows else '<p class="muted">None: the settings did not validate.</p>')
    if summary.get('settings_warnings'):
        parts.append('<ul>' + ''.join(f'<li>{_e(w)}</li>' for w in summary['settings_warnings']) + '</ul>')
    parts.append('<h3>Rendered</h3>')
    parts.append(_table(['what', 'where', 'state', 'detail'],
                        [[_e(i['what']), f'<code>{_e(i["where"])}</code>', _badge(i['state']), _e(i.get('detail', {}))]
                         for i in summary.get('rendered', [])]) if summary.get('rendered') else '<p class="muted">Nothing rendered.</p>')
    parts.append('<h3>Truststore</h3>')
    trust = summary.get('truststore')
    if trust:
        parts.append(f'<p><code>{_e(trust["path"])}</code> ({_e(trust.get("store_type") or "?")}, '
                     f'{_e(trust.get("entries"))} entries) {_badge(trust["state"])}</p>')
        parts.append(_table(['subject', 'SHA-256', 'expires', 'days left'],
                            [[_e(c.get('subject')), f'<code>{_e(c.get("sha256"))}</code>', _e(c.get('not_after')),
                              _e(c.get('days_left'))] for c in trust['certificates']]))
    else:
        parts.append('<p class="muted">Not managed on this host.</p>')
    parts.append('<h3>DNS</h3>')
    dns = summary.get('dns')
    parts.append(_table(['check', 'status', 'records', 'note'],
                        [[_e(c['check']), _badge(c['status']), _e(', '.join(c['records'])), _e(c['message'])]
                         for c in dns['checks']]) if dns else '<p class="muted">Not checked.</p>')
    parts.append('<h3>SMTP probe</h3>')
    probe = summary.get('probe')
    if probe:
        target_rows: list[list[str]] = []
        for target in probe['targets']:
            cert = target.get('certificate') or {}
            tls = target['tls']
            days = f' <span class="muted">({_e(cert.get("days_left"))} days left)</span>' if cert else ''
            target_rows.append([
                _e(target['target']), _badge(target['status']),
                _e((tls.get('version') or 'none') + (' verified' if tls.get('verified') else '')),
                _e(cert.get('subject') or '') + days,
                _e(target['credentials']), _e('; '.join(target['errors'] + target['warnings']))])
        parts.append(_table(['target', 'status', 'TLS', 'certificate', 'AUTH', 'notes'], target_rows))
    else:
        parts.append('<p class="muted">Not probed.</p>')
    parts.append('<h3>Last proof of delivery</h3>')
    proof = summary.get('proof')
    parts.append(_table(['', ''], [[_e(key), _e(value)] for key, value in proof.items() if value not in (None, '', [])])
                 if proof else '<p class="muted">No test message on record.</p>')
    if summary.get('manual_steps'):
        parts.append('<h3>Manual steps</h3><ul>' + ''.join(f'<li>{_e(step)}</li>' for step in summary['manual_steps']) + '</ul>')
    parts.append('</section>')
    return ''.join(parts)


def render_html(entries: list[tuple[dict, list[str]]], *, generated: str, title: str) -> str:
    """One page: the overview table, then every host's section."""
    overview = []
    for summary, drift_lines in entries:
        row = index_row(summary, drift_lines)
        overview.append([f'<a href="#{_e(row["host"])}">{_e(row["host"])}</a>', _e(row['product']), _badge(row['status']),
                         '<br>'.join(_e(line) for line in row['what']) or '-',
                         _e(row['relay']), _e(row['tls']), _e(row['proof']), _e(_changes_text(row['changes']))])
    body = _table(['host', 'product', 'status', 'what differs', 'relay', 'TLS', 'last proof',
                   'changed since the previous report'], overview)
    sections = ''.join(_host_html(summary, drift_lines) for summary, drift_lines in entries)
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{_e(title)}</title><style>{_CSS}</style></head><body>'
            f'<header><h1>{_e(title)}</h1><p>Generated {_e(generated)} by mailwright.smtp. Secrets are redacted.</p></header>'
            f'<main><section class="host"><h2>Overview</h2>{body}</section>{sections}</main></body></html>\n')


def index_row(summary: dict, drift_lines: list[str]) -> dict:
    server = (summary.get('settings') or {}).get('server') or {}
    return {
        'host': summary.get('host'), 'product': summary.get('product') or '?',
        'status': status_of(summary),
        'relay': f'{server.get("host")}:{server.get("port")}' if server else '?',
        'tls': _tls_text(server) if server else '?',
        'proof': _proof_text(summary),
        'drift': differences(summary),
        'changes': drift_lines,
        'what': _what_differs(summary),
    }


def _what_differs(summary: dict) -> list[str]:
    """The overview's cell: the step that failed, or the fields that differ, or why it is unproven."""
    failed = summary.get('failed')
    if failed:
        return [f'step {failed["step"]} failed: {_text(failed.get("msg"))[:200]}']
    lines = differences(summary)
    if not lines and not proven(summary):
        lines = [f'no current proof of these settings (last: {_proof_text(summary)})']
    return lines


def build_reports(reports: dict[str, dict], previous: dict[str, dict | None], *, generated: str,
                  title: str = 'Outgoing mail audit', secrets: t.Iterable[str] = ()) -> tuple[dict[str, str], dict[str, dict]]:
    """Return (files: name -> text, hosts: host -> {status, drift}) for every host in ``reports``."""
    secrets = list(secrets)
    files: dict[str, str] = {}
    hosts: dict[str, dict] = {}
    entries = []
    for host in sorted(reports):
        facts = dict(reports[host] or {})
        facts.setdefault('host', host)
        summary = summarise(facts, secrets=secrets)
        summary['host'] = host
        drift_lines = drift(previous.get(host), summary)
        entries.append((summary, drift_lines))
        files[f'{host}.json'] = json.dumps(summary, indent=2, sort_keys=True) + '\n'
        files[f'{host}.md'] = render_host_markdown(summary, drift_lines, generated=generated)
        hosts[host] = {'status': status_of(summary), 'drift': differences(summary), 'changes': drift_lines}
        if summary.get('failed'):
            hosts[host]['step'] = summary['failed']['step']
    rows = [index_row(summary, drift_lines) for summary, drift_lines in entries]
    files['index.md'] = render_index_markdown(rows, generated=generated, title=title)
    files['index.html'] = render_html(entries, generated=generated, title=title)
    files['summary.json'] = json.dumps({'generated': generated, 'hosts': hosts}, indent=2, sort_keys=True) + '\n'
    # last line of defence: no given secret in any file
    for name, text in files.items():
        files[name] = scrub(text, secrets)
    return files, hosts
