"""test_send client java as a whole process vs a bare Java program sending the same message.

Both send STARTTLS + AUTH PLAIN, with the host-name check on, to an aiosmtpd server on loopback
(in this process), with the same JavaMail jars (Debian's javax.mail 1.6.5) in the same JVM (the
`java` on PATH) and the same PKCS12 truststore. The bare program is what an administrator would
write: Session.getInstance with the properties, an Authenticator, Transport.send, no debug output,
started with plain `java -cp ...`. The module runs as AnsiballZ would start it
(`python test_send.py args.json`) with force=true, so every run really sends: Python start,
settings validation, the marker, the JVM with the shipped helper, mail.debug parsed into the
transcript.

    PYTHONPATH=.build/collections:. .venv/bin/python benchmarks/bench_test_send_java.py [--runs 5]

Prints one table row: median seconds of each and the ratio (target: <= 1.3); the ratio against the
bare program started with the JVM flags the module uses (java_client.JVM_FLAGS: most of a short
JVM run is spent in the optimising JIT compiler, which C1 only avoids); then the floors: that
program, a JVM that only prints its version, and the module with client python against the same
server (its Python side: the part the bare program does not pay).
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.certs import TestPKI  # noqa: E402
from tests.support.modrun import module_env  # noqa: E402
from tests.support.smtp_server import SMTPTestServer  # noqa: E402
from tests.support.tomcat import make_truststore  # noqa: E402

PASSWORD = 'Bench-5ecret-Pa55'
USER = 'bench-user'
JARS = ['/usr/share/java/javax.mail.jar', '/usr/share/java/javax.activation.jar']
TARGET = 1.3

BARE = '''
import java.util.Properties;
import javax.mail.*;
import javax.mail.internet.*;

public class BareSend {
    public static void main(String[] a) throws Exception {
        Properties p = new Properties();
        p.put("mail.transport.protocol", "smtp");
        p.put("mail.smtp.host", a[0]);
        p.put("mail.smtp.port", a[1]);
        p.put("mail.smtp.starttls.enable", "true");
        p.put("mail.smtp.starttls.required", "true");
        p.put("mail.smtp.ssl.checkserveridentity", "true");
        p.put("mail.smtp.auth", "true");
        p.put("mail.smtp.auth.mechanisms", "PLAIN");
        p.put("mail.smtp.user", a[2]);
        p.put("mail.smtp.localhost", "bench.example.test");
        p.put("mail.smtp.from", "jira@example.test");
        final String user = a[2], password = a[3];
        Session s = Session.getInstance(p, new Authenticator() {
            protected PasswordAuthentication getPasswordAuthentication() {
                return new PasswordAuthentication(user, password);
            }
        });
        MimeMessage m = new MimeMessage(s);
        m.setFrom(new InternetAddress("jira@example.test"));
        m.setRecipients(Message.RecipientType.TO, InternetAddress.parse("team@example.test"));
        m.setSubject("[JIRA] mailwright test message");
        m.setText("This is a test message sent by a bare JavaMail program.\\n");
        Transport.send(m);
    }
}
'''


def timed(command: list[str], env: dict | None = None) -> float:
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f'{command[0]} failed (rc={proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}')
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--runs', type=int, default=5)
    args = parser.parse_args()
    java, javac = shutil.which('java'), shutil.which('javac')
    missing = [jar for jar in JARS if not os.path.exists(jar)]
    if not java or not javac or missing:
        raise SystemExit('needs java, javac and ' + (', '.join(missing) or 'the JavaMail jars') + ' (Debian libmail-java)')
    from ansible_collections.mailwright.smtp.plugins.module_utils._prove.java_client import JVM_FLAGS

    work = pathlib.Path(tempfile.mkdtemp(prefix='bench-test-send-java-'))
    pki = TestPKI(work / 'pki')
    store = make_truststore(work / 'store.p12', pathlib.Path(pki.ca_file).read_bytes())
    (work / 'BareSend.java').write_text(BARE)
    subprocess.run([javac, '-d', str(work), '-cp', os.pathsep.join(JARS), str(work / 'BareSend.java')], check=True)
    server = SMTPTestServer('starttls', cert=pki.good, credentials={USER: PASSWORD}).start()
    try:
        settings = {
            'product': 'jira',
            'server': {'host': 'localhost', 'port': server.port, 'protocol': 'smtp', 'tls': 'required',
                       'timeout_ms': 10000, 'helo_domain': 'bench.example.test'},
            'auth': {'method': 'basic', 'username': USER, 'password': PASSWORD, 'mechanism': 'plain'},
            'sender': {'from_address': 'jira@example.test', 'subject_prefix': '[JIRA]'},
            'test': {'recipients': ['team@example.test']},
        }
        common = {'settings': settings, 'force': True, 'marker_path': str(work / 'state' / 'proof.json'),
                  '_ansible_check_mode': False, '_ansible_diff': False, '_ansible_tmpdir': str(work),
                  '_ansible_remote_tmp': str(work), '_ansible_keep_remote_files': False}
        java_args, python_args = work / 'java.json', work / 'python.json'
        java_args.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': dict(
            common, client='java', java=java, classpath=JARS, truststore_path=str(store),
            truststore_password='changeit', truststore_type='pkcs12')}))
        python_args.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': dict(common, ca_path=pki.ca_file)}))
        module = [sys.executable, str(ROOT / 'plugins' / 'modules' / 'test_send.py')]
        trust = [f'-Djavax.net.ssl.trustStore={store}', '-Djavax.net.ssl.trustStorePassword=changeit',
                 '-Djavax.net.ssl.trustStoreType=PKCS12']
        classpath = ['-cp', os.pathsep.join([str(work), *JARS])]
        bare_args = ['BareSend', 'localhost', str(server.port), USER, PASSWORD]
        commands = {
            'module': [*module, str(java_args)],
            'bare': [java, *trust, *classpath, *bare_args],
            'bare + module JVM flags': [java, *JVM_FLAGS, *trust, *classpath, *bare_args],
            'JVM start only (java -version)': [java, '-version'],
            'module, client python': [*module, str(python_args)],
        }
        env = module_env()
        env.pop('PYTHONDONTWRITEBYTECODE', None)
        env['PYTHONPYCACHEPREFIX'] = str(work / 'pycache')
        for command in commands.values():  # warm the page cache and the bytecode
            timed(command, env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _run in range(args.runs):  # interleaved, so drift hits all alike
            for name, command in commands.items():
                times[name].append(timed(command, env))
        senders = len(commands) - 1
        expected = senders * (1 + args.runs)
        if len(server.messages) != expected:
            raise SystemExit(f'expected {expected} delivered messages, the server has {len(server.messages)}')
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    median = {name: statistics.median(values) for name, values in times.items()}
    ratio = median['module'] / median['bare']
    print('| benchmark | runs | test_send client java median (s) | bare Java median (s) | ratio | target |')
    print('| --- | --- | --- | --- | --- | --- |')
    print(f'| STARTTLS + AUTH PLAIN, whole process, java | {args.runs} | {median["module"]:.3f} | {median["bare"]:.3f} '
          f'| {ratio:.2f} | <= {TARGET} {"ok" if ratio <= TARGET else "MISSED"} |')
    same_flags = median['module'] / median['bare + module JVM flags']
    print(f'| the same, against the bare program started with the module\'s JVM flags | {args.runs} '
          f'| {median["module"]:.3f} | {median["bare + module JVM flags"]:.3f} | {same_flags:.2f} | (measured) |')
    for name in list(commands)[2:]:
        print(f'| floor: {name} | {args.runs} | {median[name]:.3f} | | {median[name] / median["bare"]:.2f} | |')
    print(f'(JVM flags of the module: {" ".join(JVM_FLAGS)}; load average {os.getloadavg()[0]:.1f} on '
          f'{os.cpu_count()} CPUs)')
    print('BENCH-RESULT ' + json.dumps({'name': f'test_send client java, median of {args.runs} runs',
                                        'ours_s': median['module'], 'theirs_s': median['bare'], 'ratio': ratio,
                                        'ratio_same_jvm_flags': same_flags, 'target': TARGET,
                                        'pass': ratio <= TARGET}))
    return 0 if ratio <= TARGET else 1


if __name__ == '__main__':
    sys.exit(main())
