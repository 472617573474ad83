"""`make demo`: start a local relay and DNS server, run playbooks/demo.yml twice, show what happened.

1. start the peers (tests/support/peers.py, run through extensions/molecule/shared/peers.py as the
   molecule scenarios do): the tests' aiosmtpd relay with STARTTLS and AUTH (private CA), and
   dnsmasq with the demo zone;
2. copy a Jira-like Tomcat install into .build/demo/sandbox;
3. run playbooks/demo.yml twice (the second run shows changed=0);
4. print the message the relay received, write the audit report (playbooks/audit.yml) and, when
   Chromium is installed, a screenshot of it;
5. the OAuth 2.0 variant (demo/oauth2.yml): a local authorization server (authlib, client
   credentials, signed JWTs) and a relay that accepts only its tokens; mailwright obtains a token
   at run time, checks the credentials, sends once, and warns about basic auth to Exchange Online;
6. stop the peers, whatever happened.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import json
import secrets

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = ROOT / '.build' / 'demo'
PEERS = ROOT / 'extensions' / 'molecule' / 'shared' / 'peers.py'
CHROMIUM = '/usr/bin/chromium'


def ansible_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault('ANSIBLE_COLLECTIONS_PATH', str(ROOT / '.build' / 'collections'))
    env.setdefault('ANSIBLE_STDOUT_CALLBACK', 'default')
    env.setdefault('ANSIBLE_LOCALHOST_WARNING', 'false')
    env.setdefault('ANSIBLE_INVENTORY_UNPARSED_WARNING', 'false')
    env.setdefault('ANSIBLE_NOCOLOR', '1')
    env['PATH'] = f'{pathlib.Path(sys.executable).parent}{os.pathsep}{env.get("PATH", "")}'
    return env


def playbook(name: str, *extra: str) -> list[str]:
    return [str(pathlib.Path(sys.executable).parent / 'ansible-playbook'), '-c', 'local',
            '-e', f'ansible_python_interpreter={sys.executable}', *extra, str(ROOT / 'playbooks' / name)]


def run(command: list[str], env: dict[str, str]) -> int:
    print('$ ' + ' '.join(command), flush=True)
    return subprocess.call(command, env=env, cwd=ROOT)


def screenshot(html: pathlib.Path, png: pathlib.Path) -> bool:
    if not os.access(CHROMIUM, os.X_OK):
        print(f'(no {CHROMIUM}: no screenshot of the report)')
        return False
    with tempfile.TemporaryDirectory(prefix='mailwright-chromium-') as profile:
        subprocess.run([CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                        '--disable-component-update', '--disable-sync', '--no-first-run', f'--user-data-dir={profile}',
                        f'--screenshot={png}', '--window-size=1280,1600', html.as_uri()],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60, check=False)
    return png.exists()


def oauth2_variant(env: dict[str, str]) -> int:
    """demo/oauth2.yml against an authorization server and a token-checking relay in this process."""
    sys.path.insert(0, str(ROOT))
    from tests.support.certs import TestPKI
    from tests.support.oauth_server import OAuthTestServer
    from tests.support.smtp_server import SMTPTestServer

    work = BUILD / 'oauth2'
    if work.exists():
        shutil.rmtree(work)
    pki = TestPKI(work / 'pki')
    scope = 'https://outlook.office365.com/.default'
    secret = secrets.token_urlsafe(24)
    oauth = OAuthTestServer(cert=pki.good).start()
    relay = SMTPTestServer('starttls', cert=pki.good, token_verifier=oauth.verifier(scope), token_scope=scope,
                           maildir=str(work / 'spool')).start()
    try:
        oauth.add_client('demo-app', secret, grants=['client_credentials'], scopes=[scope])
        extra = work / 'vars.json'
        extra.write_text(json.dumps({'demo_oauth2': {
            'smtp_port': relay.port, 'token_url': oauth.token_url, 'client_id': 'demo-app', 'client_secret': secret,
            'ca_path': pki.ca_file, 'marker_path': str(work / 'proof.json')}}))
        extra.chmod(0o600)
        status = run(playbook('../demo/oauth2.yml', '-i', 'localhost,', '-e', f'@{extra}'), env)
        attempts = ', '.join(f"{a['mechanism']} {'ok' if a['ok'] else 'refused'}" for a in relay.auth_attempts)
        print(f'authorization server issued {len(oauth.access_tokens())} token(s); relay AUTH: {attempts}; '
              f'messages delivered: {len(relay.messages)}')
        return status
    finally:
        relay.stop()
        oauth.stop()


def main() -> int:
    env = ansible_env()
    sandbox = BUILD / 'sandbox'
    if sandbox.exists():
        shutil.rmtree(sandbox)
    shutil.copytree(ROOT / 'demo' / 'sandbox', sandbox)
    # Files that will hold the SMTP and store passwords must not be readable by every user
    # (the modules refuse to write a secret into one): harden the copy as a real host should be.
    for path in sandbox.rglob('*'):
        path.chmod(path.stat().st_mode & ~0o007)
    peer_env = dict(env, MAILWRIGHT_RELAY_USER='demo', MAILWRIGHT_RELAY_PASSWORD='demo-password-not-secret')
    if subprocess.call([sys.executable, str(PEERS), 'start', '--dir', str(BUILD / 'peers')], env=peer_env,
                       stdout=subprocess.DEVNULL) != 0:
        print((BUILD / 'peers' / 'peers.log').read_text(errors='replace'))
        return 1
    try:
        print('== first run: configures the sandbox, trusts the relay, checks DNS and the relay, sends one test message')
        status = run(playbook('demo.yml', '-i', str(ROOT / 'demo' / 'inventory.yml')), env)
        if status:
            return status
        print('== second run: nothing left to change (changed=0)')
        status = run(playbook('demo.yml', '-i', str(ROOT / 'demo' / 'inventory.yml')), env)
        if status:
            return status
        print('== the message the relay received')
        subprocess.call([sys.executable, str(PEERS), 'messages', '--dir', str(BUILD / 'peers')])
        print('== the audit report (check mode: reads only)')
        report_dir = BUILD / 'report'
        status = run(playbook('audit.yml', '-i', str(ROOT / 'demo' / 'inventory.yml'), '-e', f'mail_audit_dir={report_dir}', '-e', 'mail_audit_play=demo'), env)
        if status:
            return status
        print(f'report: {report_dir / "index.html"} and {report_dir / "index.md"}')
        if screenshot(report_dir / 'index.html', report_dir / 'index.png'):
            print(f'screenshot: {report_dir / "index.png"}')
        print(f'sandbox: {sandbox}')
        print('== OAuth 2.0 variant: a token obtained at run time (client credentials), proven with XOAUTH2')
        return oauth2_variant(env)
    finally:
        subprocess.call([sys.executable, str(PEERS), 'stop', '--dir', str(BUILD / 'peers')])


if __name__ == '__main__':
    sys.exit(main())
