"""Run every benchmarks/bench_*.py once and print ONE table of ratios from that run.

Each benchmark runs as its own process (so one cannot warm caches for the next) and prints its
own detail; this script collects the headline figure of each:

* a line ``BENCH-RESULT {"name", "ours_s", "theirs_s", "ratio", "target", "pass", ...}`` when the
  benchmark prints one (bench_fleet.py does);
* otherwise the benchmark's own table row, read by a small parser per benchmark below.

A figure of TARGETS whose benchmark file is not there is printed as "not measured" (it does not
fail the run). The header names the machine: CPUs, CPU model, load average before and after, since
the machine may be shared and every ratio moves with its load.

Usage:
    python benchmarks/run.py                      # everything, default sizes
    python benchmarks/run.py --only validate fleet
    python benchmarks/run.py --fleet-hosts 10     # a smaller fleet when time is short
Exit status 0 when every benchmark ran and met its target, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import re
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent

# name -> (what is compared, target ratio)
TARGETS = {
    'validate': ('10,000 documents: settings_validate / check-jsonschema', 0.15),
    'test_send': ('one test send (STARTTLS + AUTH) process / swaks', 1.5),
    'test_send_java': ('test_send client java process / bare JavaMail program, same JVM', 1.3),
    'probe_fanout': ('probe fan-out, 200 targets (100 silent): wall / timeout', 1.2),
    'fleet': ('role re-run on N hosts / 8 x ping on the same hosts', 1.0),
    'mail_info': ('mail_info over N hosts / role re-run on the same hosts', 1.0),
}
_NUMBER = r'([0-9]+(?:\.[0-9]+)?)'


def _result_lines(out: str) -> list[dict]:
    found = []
    for line in out.splitlines():
        if line.startswith('BENCH-RESULT '):
            try:
                found.append(json.loads(line[len('BENCH-RESULT '):]))
            except ValueError:
                pass
    return found


def _parse_validate(out: str) -> dict | None:
    match = re.search(r'validation, (\d+) files \| settings_validate ' + _NUMBER + r' s .*?check-jsonschema '
                      + _NUMBER + r' s \| ratio ' + _NUMBER, out)
    if not match:
        return None
    return {'name': f'validation, {match.group(1)} files', 'ours_s': float(match.group(2)),
            'theirs_s': float(match.group(3)), 'ratio': float(match.group(4))}


def _parse_probe_fanout(out: str) -> dict | None:
    timeout = re.search(r'timeout ' + _NUMBER + r's', out)
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) >= 4 and cells[0].startswith('smtp_probe, one module process'):
            return {'name': f'probe fan-out, {cells[1]} targets', 'ours_s': float(cells[2]),
                    'theirs_s': float(timeout.group(1)) if timeout else None, 'ratio': float(cells[3]),
                    'baseline': 'timeout'}
    return None


def _parse_test_send(out: str) -> dict | None:
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) >= 5 and cells[0].startswith('STARTTLS + AUTH'):
            try:
                return {'name': f'test send, median of {cells[1]} runs', 'ours_s': float(cells[2]),
                        'theirs_s': float(cells[3]), 'ratio': float(cells[4])}
            except ValueError:
                return None
    return None


def _parse_generic(out: str) -> dict | None:
    """`... X s ... swaks Y s ... ratio R` style rows (bench_test_send.py and later benchmarks)."""
    ratio = re.findall(r'ratio\s*[=:]?\s*' + _NUMBER, out, re.I)
    if not ratio:
        return None
    seconds = re.findall(_NUMBER + r'\s*(?:s|ms)\b', out)
    result = {'ratio': float(ratio[-1])}
    if len(seconds) >= 2:
        result['ours_s'], result['theirs_s'] = float(seconds[0]), float(seconds[1])
    return result


PARSERS = {'validate': _parse_validate, 'probe_fanout': _parse_probe_fanout, 'test_send': _parse_test_send}


def run_one(path: pathlib.Path, extra: list[str]) -> dict:
    key = path.stem[len('bench_'):]
    start = time.perf_counter()
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(ROOT / '.build' / 'collections'), str(ROOT)])
    proc = subprocess.run([sys.executable, str(path), *extra], capture_output=True, text=True, env=env,
                          check=False, cwd=str(ROOT))
    wall = time.perf_counter() - start
    sys.stdout.write(f'\n===== {path.name} (exit {proc.returncode}, {wall:.1f} s) =====\n{proc.stdout}')
    if proc.returncode != 0:
        sys.stdout.write(proc.stderr[-4000:])
    return _row(key, proc.stdout, proc.returncode, wall)


def _row(key: str, out: str, returncode: int, wall: float) -> dict:
    found = _result_lines(out)
    result = found[-1] if found else (PARSERS.get(key, _parse_generic)(out) or _parse_generic(out))
    what, target = TARGETS.get(key, (key, None))
    row = {'key': key, 'what': what, 'exit': returncode, 'bench_wall_s': wall}
    if result:
        row.update({k: v for k, v in result.items() if k != 'target'})
    row['target'] = target  # ours, numeric: a benchmark's own 'target' text is for people
    return row


_SECTION = re.compile(r'^===== bench_(\w+)\.py \(exit (-?\d+), ([0-9.]+) s\) =====$', re.M)


def rows_from_log(text: str) -> list[dict]:
    """The rows of an earlier run, from the output this script printed (see --reparse)."""
    marks = list(_SECTION.finditer(text))
    rows = []
    for index, mark in enumerate(marks):
        end = marks[index + 1].start() if index + 1 < len(marks) else len(text)
        body = text[mark.end():end].split('\n# mailwright benchmarks, one run')[0]
        rows.append(_row(mark.group(1), body, int(mark.group(2)), float(mark.group(3))))
    return rows


def cpu_model() -> str:
    try:
        for line in pathlib.Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _load() -> str:
    return ' '.join(f'{value:.2f}' for value in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--only', nargs='*', help='benchmark keys (validate, test_send, test_send_java, probe_fanout, fleet, mail_info)')
    parser.add_argument('--fleet-hosts', type=int, default=50)
    parser.add_argument('--json', help='also write the table as JSON to this file')
    parser.add_argument('--reparse', metavar='LOG',
                        help='print the table again from the saved output of an earlier run (nothing is run)')
    args = parser.parse_args()

    extra = {'fleet': ['--hosts', str(args.fleet_hosts)], 'mail_info': ['--hosts', str(args.fleet_hosts)]}
    benches = sorted(HERE.glob('bench_*.py'))
    wanted = list(TARGETS) if not args.only else [key for key in TARGETS if key in args.only]
    if args.only:
        benches = [b for b in benches if b.stem[len('bench_'):] in args.only]
    load_before = _load()
    if args.reparse:
        rows = rows_from_log(pathlib.Path(args.reparse).read_text())
    else:
        rows = [run_one(path, extra.get(path.stem[len('bench_'):], [])) for path in benches]
    measured = {row['key'] for row in rows}
    rows += [{'key': key, 'what': TARGETS[key][0], 'exit': None, 'target': TARGETS[key][1]}
             for key in wanted if key not in measured]

    when = f'rebuilt from {args.reparse}' if args.reparse else time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())
    print(f'\n# mailwright benchmarks, one run: {platform.node()}, {os.cpu_count()} CPUs ({cpu_model()}), '
          f'Python {platform.python_version()}, {when}')
    print(f'# load average (1, 5, 15 min): {load_before} before, {_load()} after\n')
    print(f'| {"benchmark":<58} | {"ours s":>8} | {"baseline s":>10} | {"ratio":>6} | {"target":>7} | result')
    print(f'|{"-" * 60}|{"-" * 10}|{"-" * 12}|{"-" * 8}|{"-" * 9}|--------')
    all_ok = True
    for row in rows:
        ratio = row.get('ratio')
        target = row['target']
        if row['exit'] is None:
            verdict = ('not measured (not in this run)' if (HERE / f'bench_{row["key"]}.py').exists()
                       else 'not measured (no benchmark file)')
        elif row['exit'] != 0 or ratio is None:
            verdict = f'ERROR (exit {row["exit"]})' if ratio is None else f'INVALID RUN (exit {row["exit"]})'
            all_ok = False
        elif target is None:
            verdict = 'measured'
        else:
            verdict = 'meets target' if ratio <= target else 'MISSES target'
            all_ok = all_ok and ratio <= target
        what = row['what'] if row['key'] != 'fleet' or 'hosts' not in row else \
            f'role re-run, {row["hosts"]} hosts ({row.get("connection", "local")}) / 8 x ping, same hosts'
        ours = f'{row["ours_s"]:.2f}' if isinstance(row.get('ours_s'), (int, float)) else '-'
        theirs = f'{row["theirs_s"]:.2f}' if isinstance(row.get('theirs_s'), (int, float)) else '-'
        shown = f'{ratio:.2f}' if ratio is not None else '-'
        limit = f'<= {target:g}' if target is not None else '-'
        print(f'| {what:<58} | {ours:>8} | {theirs:>10} | {shown:>6} | {limit:>7} | {verdict}')
        if row['key'] == 'fleet' and isinstance(row.get('first_run_s'), (int, float)):
            first = f'  role first converge, same {row.get("hosts")} hosts / 8 x ping'
            print(f'| {first:<58} | {row["first_run_s"]:>8.2f} | {theirs:>10} | '
                  f'{row["first_run_s"] / row["theirs_s"]:>6.2f} | {"-":>7} | measured')
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(rows, indent=2) + '\n')
    return 0 if all_ok else 1


if __name__ == '__main__':
    sys.exit(main())
