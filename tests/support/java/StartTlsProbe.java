// A minimal SMTP client that proves what the JVM trusts: EHLO, STARTTLS, handshake, EHLO, QUIT.
// It configures no trust of its own: the default SSLSocketFactory reads only the standard
// javax.net.ssl.trustStore / trustStorePassword / trustStoreType system properties, exactly as
// Jira, Confluence and Bitbucket do. Usage: java StartTlsProbe <host> <port> [starttls|smtps] [verify-host]
// Exit codes: 0 handshake and EHLO over TLS succeeded, 2 TLS handshake failed, 3 other error.

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;

public final class StartTlsProbe {
    private static final int TIMEOUT_MS = 10000;

    private static String reply(BufferedReader in, String expect) throws IOException {
        StringBuilder all = new StringBuilder();
        String line;
        do {
            line = in.readLine();
            if (line == null) {
                throw new IOException("connection closed while waiting for " + expect);
            }
            System.out.println("S: " + line);
            all.append(line).append('\n');
        } while (line.length() > 3 && line.charAt(3) == '-');
        if (!line.startsWith(expect)) {
            throw new IOException("expected " + expect + ", got: " + line);
        }
        return all.toString();
    }

    private static void send(OutputStream out, String line) throws IOException {
        System.out.println("C: " + line);
        out.write((line + "\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    private static SSLSocket layer(Socket plain, String host, int port, boolean verifyHost) throws IOException {
        SSLSocketFactory factory = (SSLSocketFactory) SSLSocketFactory.getDefault();
        SSLSocket tls = (SSLSocket) factory.createSocket(plain, host, port, true);
        if (verifyHost) {
            SSLParameters params = tls.getSSLParameters();
            params.setEndpointIdentificationAlgorithm("HTTPS");
            tls.setSSLParameters(params);
        }
        tls.setUseClientMode(true);
        tls.startHandshake();
        System.out.println("* TLS established " + tls.getSession().getProtocol() + " "
                + tls.getSession().getCipherSuite() + " peer "
                + tls.getSession().getPeerPrincipal().getName());
        return tls;
    }

    public static void main(String[] args) {
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        boolean smtps = args.length > 2 && args[2].equals("smtps");
        boolean verifyHost = args.length > 3 && args[3].equals("verify-host");
        try (Socket plain = new Socket()) {
            plain.connect(new InetSocketAddress(host, port), TIMEOUT_MS);
            plain.setSoTimeout(TIMEOUT_MS);
            Socket sock = smtps ? layer(plain, host, port, verifyHost) : plain;
            BufferedReader in = new BufferedReader(new InputStreamReader(sock.getInputStream(), StandardCharsets.US_ASCII));
            OutputStream out = sock.getOutputStream();
            reply(in, "220");
            send(out, "EHLO java-probe.test");
            String ehlo = reply(in, "250");
            if (!smtps) {
                if (!ehlo.toUpperCase().contains("STARTTLS")) {
                    System.out.println("ERROR server does not offer STARTTLS");
                    System.exit(3);
                }
                send(out, "STARTTLS");
                reply(in, "220");
                sock = layer(plain, host, port, verifyHost);
                in = new BufferedReader(new InputStreamReader(sock.getInputStream(), StandardCharsets.US_ASCII));
                out = sock.getOutputStream();
                send(out, "EHLO java-probe.test");
                reply(in, "250");
            }
            send(out, "QUIT");
            reply(in, "221");
            System.out.println("OK");
            System.exit(0);
        } catch (SSLHandshakeException e) {
            System.out.println("HANDSHAKE-FAILED " + e.getMessage());
            System.exit(2);
        } catch (IOException e) {
            System.out.println("ERROR " + e);
            System.exit(3);
        }
    }
}
