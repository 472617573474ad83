"""java.util.Properties.load from the JDK, as a reader tests compare our .properties output with.

One small Java program loads many files in one JVM and prints what it read as JSON, every
character as a \\uXXXX escape so nothing is lost on the way back; a file Java refuses comes back
as ``{"error": "malformed"}``.
"""
from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import textwrap

__all__ = ['JavaPropertiesReader', 'jdk_missing']

_DUMP = textwrap.dedent("""\
    import java.io.FileInputStream;
    import java.util.Properties;
    import java.util.TreeMap;

    public class DumpProperties {
        static String q(String s) {
            StringBuilder b = new StringBuilder("\\"");
            for (char c : s.toCharArray()) b.append(String.format("\\\\u%04x", (int) c));
            return b.append('"').toString();
        }
        public static void main(String[] args) throws Exception {
            StringBuilder out = new StringBuilder("[");
            for (int i = 0; i < args.length; i++) {
                Properties p = new Properties();
                String error = null;
                try (FileInputStream in = new FileInputStream(args[i])) { p.load(in); }
                catch (IllegalArgumentException e) { error = "malformed"; }
                out.append(i == 0 ? "" : ",").append("{");
                if (error != null) { out.append("\\"error\\":").append(q(error)); }
                else {
                    boolean first = true;
                    for (var e : new TreeMap<Object, Object>(p).entrySet()) {
                        out.append(first ? "" : ",").append(q((String) e.getKey())).append(":").append(q((String) e.getValue()));
                        first = false;
                    }
                }
                out.append("}");
            }
            System.out.println(out.append("]"));
        }
    }
""")


def jdk_missing() -> str | None:
    """Why the reader cannot run here, or None."""
    if shutil.which('javac') is None or shutil.which('java') is None:
        return 'no JDK (java, javac) on PATH'
    return None


class JavaPropertiesReader:
    """Compiles the reader once into `workdir`; load() reads many files in one JVM."""

    def __init__(self, workdir: pathlib.Path):
        self.workdir = pathlib.Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / 'DumpProperties.java').write_text(_DUMP)
        subprocess.run(['javac', '-d', str(self.workdir), str(self.workdir / 'DumpProperties.java')],
                       check=True, timeout=120)

    def load(self, paths: list[pathlib.Path], *, timeout: float = 300) -> list[dict]:
        proc = subprocess.run(['java', '-cp', str(self.workdir), 'DumpProperties', *map(str, paths)],
                              check=True, capture_output=True, text=True, timeout=timeout)
        return json.loads(proc.stdout)
