# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A private Tomcat 10 instance for tests: its own CATALINA_BASE on a loopback port.

Uses Debian's tomcat10 (CATALINA_HOME=/usr/share/tomcat10) with Jakarta Mail and Activation
copied into the instance's lib/, the way an administrator installs them. The test owns the
process: `catalina.sh run` in the foreground, stopped by pid.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import subprocess
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request

from tests.support.ports import free_port

__all__ = [
    'CATALINA_HOME',
    'MAIL_JARS',
    'missing_tomcat',
    'free_port',
    'TomcatInstance',
    'build_send_webapp',
    'make_truststore',
]

CATALINA_HOME = pathlib.Path(os.environ.get('MAILWRIGHT_CATALINA_HOME', '/usr/share/tomcat10'))
MAIL_JARS = [pathlib.Path('/usr/share/java/jakarta-mail.jar'), pathlib.Path('/usr/share/java/jakarta-activation.jar')]
SERVLET_API = CATALINA_HOME / 'lib' / 'servlet-api.jar'


def missing_tomcat() -> str | None:
    """Why a Tomcat test cannot run here, or None when everything is installed."""
    for path in [CATALINA_HOME / 'bin' / 'catalina.sh', SERVLET_API, *MAIL_JARS]:
        if not path.exists():
            return f'{path} is missing (Debian packages tomcat10, libjakarta-mail-java, libjakarta-activation-java)'
    for tool in ('java', 'javac', 'keytool'):
        if shutil.which(tool) is None:
            return f'{tool} is not on PATH (a JDK is needed)'
    return None


_SERVER_XML = """\
<?xml version="1.0" encoding="UTF-8"?>
<!-- A private test instance: no shutdown port, one loopback HTTP connector. -->
<Server port="-1" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Connector port="{port}" address="127.0.0.1" protocol="HTTP/1.1" connectionTimeout="20000"/>
    <Engine name="Catalina" defaultHost="localhost">
      <Host name="localhost" appBase="webapps" unpackWARs="false" autoDeploy="false">
      </Host>
    </Engine>
  </Service>
</Server>
"""


class TomcatInstance:
    """CATALINA_BASE under `base`; start() runs it, stop() ends it (by pid, never by name)."""

    def __init__(self, base: pathlib.Path, *, port: int | None = None, catalina_opts: list[str] | None = None):
        self.base = pathlib.Path(base)
        self.port = port or free_port()
        self.catalina_opts = list(catalina_opts or [])
        self.process: subprocess.Popen | None = None
        self.startup_seconds: float | None = None
        for sub in ('conf', 'lib', 'logs', 'temp', 'webapps', 'work', 'conf/Catalina/localhost'):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        for name in ('web.xml', 'logging.properties', 'catalina.properties', 'context.xml'):
            shutil.copyfile(CATALINA_HOME / 'etc' / name, self.base / 'conf' / name)
        (self.base / 'conf' / 'server.xml').write_text(_SERVER_XML.format(port=self.port))
        for jar in MAIL_JARS:
            shutil.copyfile(jar, self.base / 'lib' / jar.name)

    @property
    def context_dir(self) -> pathlib.Path:
        return self.base / 'conf' / 'Catalina' / 'localhost'

    @property
    def log(self) -> pathlib.Path:
        return self.base / 'logs' / 'console.log'

    def url(self, path: str, **query: str) -> str:
        suffix = ('?' + urllib.parse.urlencode(query)) if query else ''
        return f'http://127.0.0.1:{self.port}{path}{suffix}'

    def start(self, *, timeout: float = 60.0, ready_path: str = '/') -> None:
        env = dict(os.environ, CATALINA_HOME=str(CATALINA_HOME), CATALINA_BASE=str(self.base),
                   CATALINA_TMPDIR=str(self.base / 'temp'), CATALINA_OPTS=' '.join(self.catalina_opts),
                   CATALINA_PID=str(self.base / 'temp' / 'catalina.pid'))
        env.pop('JAVA_OPTS', None)
        started = time.monotonic()
        with open(self.log, 'ab') as log:
            self.process = subprocess.Popen([str(CATALINA_HOME / 'bin' / 'catalina.sh'), 'run'], env=env,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f'Tomcat exited with {self.process.returncode}:\n{self.tail()}')
            try:
                urllib.request.urlopen(self.url(ready_path), timeout=2).close()
                break
            except urllib.error.HTTPError:
                break  # it answers: 404 on an empty root is fine
            except OSError:
                time.sleep(0.2)
        else:
            self.stop()
            raise RuntimeError(f'Tomcat did not answer on port {self.port} within {timeout} s:\n{self.tail()}')
        self.startup_seconds = time.monotonic() - started

    def get(self, path: str, *, timeout: float = 60.0, **query: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url(path, **query), timeout=timeout) as response:
                return response.status, response.read().decode('utf-8', 'replace')
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode('utf-8', 'replace')

    def tail(self, lines: int = 60) -> str:
        chunks = []
        for log in sorted((self.base / 'logs').glob('*')):
            try:
                chunks.extend(f'{log.name}: {line}' for line in log.read_text(errors='replace').splitlines()[-lines:])
            except OSError:
                pass
        return '\n'.join(chunks)

    def stop(self, timeout: float = 20.0) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        # catalina.sh execs java in its own session; signal that process group only.
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)

    def __enter__(self) -> 'TomcatInstance':
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


_SERVLET = textwrap.dedent("""\
    import java.io.IOException;
    import java.io.PrintWriter;
    import javax.naming.InitialContext;
    import jakarta.mail.Message;
    import jakarta.mail.Session;
    import jakarta.mail.Transport;
    import jakarta.mail.internet.InternetAddress;
    import jakarta.mail.internet.MimeMessage;
    import jakarta.servlet.http.HttpServlet;
    import jakarta.servlet.http.HttpServletRequest;
    import jakarta.servlet.http.HttpServletResponse;

    /** Looks the mail session up by JNDI and sends one message through it, as an application would. */
    public class SendServlet extends HttpServlet {
        @Override
        protected void doGet(HttpServletRequest request, HttpServletResponse response) throws IOException {
            response.setContentType("text/plain;charset=UTF-8");
            PrintWriter out = response.getWriter();
            try {
                Session session = (Session) new InitialContext().lookup("java:comp/env/" + request.getParameter("jndi"));
                MimeMessage message = new MimeMessage(session);
                message.setFrom();  // the From header comes from the session's mail.from
                message.setRecipients(Message.RecipientType.TO, InternetAddress.parse(request.getParameter("to")));
                message.setSubject(request.getParameter("subject"), "UTF-8");
                message.setText("Sent through the JNDI mail session " + request.getParameter("jndi") + "\\n", "UTF-8");
                Transport.send(message);
                out.println("SENT");
            } catch (Exception e) {
                response.setStatus(500);
                e.printStackTrace(out);
            }
        }
    }
""")

_WEB_XML = """\
<?xml version="1.0" encoding="UTF-8"?>
<web-app xmlns="https://jakarta.ee/xml/ns/jakartaee" version="6.0" metadata-complete="true">
  <servlet><servlet-name>send</servlet-name><servlet-class>SendServlet</servlet-class></servlet>
  <servlet-mapping><servlet-name>send</servlet-name><url-pattern>/send</url-pattern></servlet-mapping>
</web-app>
"""


def build_send_webapp(directory: pathlib.Path) -> pathlib.Path:
    """An exploded webapp with one servlet (/send), compiled with javac. Returns its directory."""
    directory = pathlib.Path(directory)
    classes = directory / 'WEB-INF' / 'classes'
    classes.mkdir(parents=True, exist_ok=True)
    source = directory.parent / f'{directory.name}-src' / 'SendServlet.java'
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(_SERVLET)
    (directory / 'WEB-INF' / 'web.xml').write_text(_WEB_XML)
    classpath = os.pathsep.join(str(p) for p in [SERVLET_API, *MAIL_JARS])
    subprocess.run(['javac', '-encoding', 'UTF-8', '-cp', classpath, '-d', str(classes), str(source)],
                   check=True, capture_output=True, text=True, timeout=120)
    return directory


def make_truststore(path: pathlib.Path, ca_pem: bytes | str, *, password: str = 'changeit',
                    alias: str = 'test-ca') -> pathlib.Path:
    """A PKCS12 truststore holding the test CA, made with the JDK's keytool."""
    path = pathlib.Path(path)
    pem = path.with_suffix('.ca.pem')
    pem.write_bytes(ca_pem.encode() if isinstance(ca_pem, str) else ca_pem)
    if path.exists():
        path.unlink()
    subprocess.run(['keytool', '-importcert', '-noprompt', '-alias', alias, '-file', str(pem),
                    '-keystore', str(path), '-storetype', 'PKCS12', '-storepass', password],
                   check=True, capture_output=True, text=True, timeout=60)
    return path
