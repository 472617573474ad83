// Copyright (c) mailwright contributors
// GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
// SPDX-License-Identifier: GPL-3.0-or-later

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.lang.reflect.Array;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.URL;
import java.security.CodeSource;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * The test send of mailwright.smtp.test_send (client java), made by the application's own JavaMail
 * or Jakarta Mail jars in the application's JVM.
 *
 * Everything arrives on stdin as java.util.Properties text: the session properties exactly as the
 * render step writes them, plus control keys under "mailwright.proof." (mode, api, envelope, the
 * message as base64, the password). The password never travels on the command line or in the
 * environment; it reaches JavaMail through an Authenticator, as Tomcat's mail session factory does.
 *
 * One class for both APIs: Session, Transport and MimeMessage are reached by reflection, and the
 * two tiny Authenticator subclasses (one per API) are loaded by name, so the JVM only ever loads
 * the one whose API is on the classpath. Compiled for Java 8 so it runs on every JRE the products
 * ship. The SMTP conversation (mail.debug) goes to stderr; one JSON object goes to stdout.
 */
public final class MailwrightProof {
    static volatile String user;
    static volatile String password;

    private static final String CONTROL = "mailwright.proof.";

    private MailwrightProof() {
    }

    public static void main(String[] args) throws Exception {
        // Everything JavaMail prints (the Session constructor writes its version to System.out
        // before a debug stream can be set) goes to stderr; stdout carries the one JSON result.
        PrintStream result = System.out;
        System.setOut(System.err);
        Map<String, Object> out = new LinkedHashMap<String, Object>();
        String phase = "setup";
        Object transport = null;
        try {
            Properties input = new Properties();
            input.load(System.in);
            Properties props = new Properties();
            for (String key : input.stringPropertyNames()) {
                if (key.startsWith(CONTROL + "system.")) {
                    // JVM options such as the truststore (its password too): set before the first
                    // TLS use, so they are read as if given with -D, yet never on the command line.
                    System.setProperty(key.substring(CONTROL.length() + 7), input.getProperty(key));
                } else if (!key.startsWith(CONTROL)) {
                    props.setProperty(key, input.getProperty(key));
                }
            }
            out.put("jvm", jvm());
            String pkg = apiPackage(input.getProperty(CONTROL + "api", "auto"));
            out.put("api", pkg.startsWith("jakarta") ? "jakarta" : "javax");
            Class<?> sessionClass = Class.forName(pkg + ".Session");
            out.put("javamail", javamail(sessionClass));

            Object authenticator = null;
            password = input.getProperty(CONTROL + "password");
            user = props.getProperty("mail.smtp.user", props.getProperty("mail.user"));
            if (password != null) {
                String name = pkg.startsWith("jakarta") ? "MailwrightJakartaAuth" : "MailwrightJavaxAuth";
                authenticator = Class.forName(name).getDeclaredConstructor().newInstance();
            }
            Class<?> authClass = Class.forName(pkg + ".Authenticator");
            Object session = sessionClass.getMethod("getInstance", Properties.class, authClass)
                    .invoke(null, props, authenticator);
            sessionClass.getMethod("setDebugOut", PrintStream.class).invoke(session, System.err);
            transport = sessionClass.getMethod("getTransport", String.class).invoke(session, "smtp");

            phase = "connect";
            transport.getClass().getMethod("connect").invoke(transport);
            out.put("tls", tls(transport));

            String mode = input.getProperty(CONTROL + "mode", "send");
            List<String> recipients = new ArrayList<String>();
            for (int index = 0; input.getProperty(CONTROL + "rcpt." + index) != null; index++) {
                recipients.add(input.getProperty(CONTROL + "rcpt." + index));
            }
            if ("check".equals(mode)) {
                // RCPT-level proof: nothing is delivered (SMTPTransport's public simpleCommand).
                Method command = transport.getClass().getMethod("simpleCommand", String.class);
                phase = "mail";
                expect(transport, command, "MAIL FROM:<" + input.getProperty(CONTROL + "from") + ">", 250, 250);
                phase = "rcpt";
                for (String recipient : recipients) {
                    expect(transport, command, "RCPT TO:<" + recipient + ">", 250, 251);
                }
                phase = "rset";
                expect(transport, command, "RSET", 250, 250);
            } else {
                phase = "send";
                Class<?> mimeClass = Class.forName(pkg + ".internet.MimeMessage");
                byte[] raw = Base64.getDecoder().decode(input.getProperty(CONTROL + "message", ""));
                Constructor<?> make = mimeClass.getConstructor(sessionClass, InputStream.class);
                Object message = make.newInstance(session, new ByteArrayInputStream(raw));
                Class<?> addressClass = Class.forName(pkg + ".Address");
                Class<?> internetClass = Class.forName(pkg + ".internet.InternetAddress");
                Object addresses = Array.newInstance(addressClass, recipients.size());
                for (int index = 0; index < recipients.size(); index++) {
                    Array.set(addresses, index, internetClass.getConstructor(String.class).newInstance(recipients.get(index)));
                }
                // sendMessage, not Transport.send: the message parsed from its bytes keeps the
                // Message-ID and the fingerprint header the proof is recognised by.
                transport.getClass().getMethod("sendMessage", Class.forName(pkg + ".Message"), addresses.getClass())
                        .invoke(transport, message, addresses);
            }
            out.put("reply", reply(transport));
            close(transport);
            out.put("ok", Boolean.TRUE);
        } catch (Throwable error) {
            Throwable cause = error instanceof InvocationTargetException ? error.getCause() : error;
            out.put("ok", Boolean.FALSE);
            out.put("phase", phase);
            out.put("errors", chain(cause));
            if (transport != null) {
                out.put("last_reply", reply(transport));
                if (!out.containsKey("tls")) {
                    out.put("tls", tls(transport));
                }
                close(transport);
            }
        }
        System.err.flush();
        result.println(json(out));
        result.flush();
    }

    private static void close(Object transport) {
        try {
            transport.getClass().getMethod("close").invoke(transport);
        } catch (Throwable ignored) {
            // QUIT is a courtesy: the message was accepted or the connection is gone already
        }
    }

    private static String apiPackage(String api) throws ClassNotFoundException {
        if ("jakarta".equals(api) || "javax".equals(api)) {
            Class.forName(api + ".mail.Session");
            return api + ".mail";
        }
        try {
            Class.forName("jakarta.mail.Session");
            return "jakarta.mail";
        } catch (ClassNotFoundException missing) {
            Class.forName("javax.mail.Session");
            return "javax.mail";
        }
    }

    private static Map<String, Object> jvm() {
        Map<String, Object> jvm = new LinkedHashMap<String, Object>();
        jvm.put("version", System.getProperty("java.version"));
        jvm.put("vendor", System.getProperty("java.vendor"));
        jvm.put("runtime", System.getProperty("java.runtime.version"));
        jvm.put("home", System.getProperty("java.home"));
        return jvm;
    }

    private static Map<String, Object> javamail(Class<?> sessionClass) {
        Map<String, Object> info = new LinkedHashMap<String, Object>();
        Package pkg = sessionClass.getPackage();
        info.put("implementation", pkg == null ? null : pkg.getImplementationTitle());
        info.put("version", pkg == null ? null : pkg.getImplementationVersion());
        info.put("specification", pkg == null ? null : pkg.getSpecificationVersion());
        info.put("vendor", pkg == null ? null : pkg.getImplementationVendor());
        CodeSource source = sessionClass.getProtectionDomain().getCodeSource();
        URL location = source == null ? null : source.getLocation();
        info.put("jar", location == null ? null : location.getPath());
        return info;
    }

    private static void expect(Object transport, Method command, String line, int low, int high) throws Exception {
        int code = ((Integer) command.invoke(transport, line)).intValue();
        if (code != low && code != high) {
            throw new IllegalStateException("server replied " + code + " to " + line.split(":")[0]);
        }
    }

    private static Map<String, Object> reply(Object transport) {
        Map<String, Object> reply = new LinkedHashMap<String, Object>();
        try {
            reply.put("code", transport.getClass().getMethod("getLastReturnCode").invoke(transport));
            reply.put("text", transport.getClass().getMethod("getLastServerResponse").invoke(transport));
        } catch (Throwable ignored) {
            // not an SMTPTransport: no reply to report
        }
        return reply;
    }

    private static Map<String, Object> tls(Object transport) {
        // SMTPTransport keeps its socket private; reading it is the only way to learn the protocol.
        for (Class<?> type = transport.getClass(); type != null; type = type.getSuperclass()) {
            try {
                Field field = type.getDeclaredField("serverSocket");
                field.setAccessible(true);
                Object socket = field.get(transport);
                if (socket instanceof javax.net.ssl.SSLSocket) {
                    javax.net.ssl.SSLSession ssl = ((javax.net.ssl.SSLSocket) socket).getSession();
                    Map<String, Object> tls = new LinkedHashMap<String, Object>();
                    tls.put("protocol", ssl.getProtocol());
                    tls.put("cipher", ssl.getCipherSuite());
                    return tls;
                }
                return null;
            } catch (NoSuchFieldException next) {
                continue;
            } catch (Throwable other) {
                return null;
            }
        }
        return null;
    }

    private static List<Object> chain(Throwable error) {
        List<Object> chain = new ArrayList<Object>();
        List<Throwable> seen = new ArrayList<Throwable>();
        for (Throwable item = error; item != null && !seen.contains(item) && seen.size() < 10; item = next(item)) {
            seen.add(item);
            Map<String, Object> entry = new LinkedHashMap<String, Object>();
            entry.put("class", item.getClass().getName());
            entry.put("message", item.getMessage());
            try {
                entry.put("code", item.getClass().getMethod("getReturnCode").invoke(item));
            } catch (Throwable ignored) {
                // only the SMTP exceptions carry a reply code
            }
            chain.add(entry);
        }
        return chain;
    }

    private static Throwable next(Throwable item) {
        try {
            Object nested = item.getClass().getMethod("getNextException").invoke(item);
            if (nested instanceof Throwable) {
                return (Throwable) nested;
            }
        } catch (Throwable ignored) {
            // not a MessagingException
        }
        return item.getCause();
    }

    static String json(Object value) {
        if (value == null) {
            return "null";
        }
        if (value instanceof Boolean || value instanceof Integer || value instanceof Long) {
            return value.toString();
        }
        if (value instanceof Map) {
            StringBuilder text = new StringBuilder("{");
            for (Map.Entry<?, ?> entry : ((Map<?, ?>) value).entrySet()) {
                if (text.length() > 1) {
                    text.append(',');
                }
                text.append(json(String.valueOf(entry.getKey()))).append(':').append(json(entry.getValue()));
            }
            return text.append('}').toString();
        }
        if (value instanceof List) {
            StringBuilder text = new StringBuilder("[");
            for (Object item : (List<?>) value) {
                if (text.length() > 1) {
                    text.append(',');
                }
                text.append(json(item));
            }
            return text.append(']').toString();
        }
        String text = value.toString();
        StringBuilder quoted = new StringBuilder("\"");
        for (int index = 0; index < text.length(); index++) {
            char c = text.charAt(index);
            if (c == '"' || c == '\\') {
                quoted.append('\\').append(c);
            } else if (c < 0x20 || c > 0x7e) {
                quoted.append(String.format("\\u%04x", (int) c));
            } else {
                quoted.append(c);
            }
        }
        return quoted.append('"').toString();
    }
}
