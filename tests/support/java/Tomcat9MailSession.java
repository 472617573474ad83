// A plain JVM standing in for Tomcat 9: it builds a javax.mail.Session from a <Resource> element
// the way org.apache.naming.factory.MailSessionFactory does, and sends one message through it as
// an application would (Transport.send). Every attribute but the Resource's own (name, auth, type,
// factory, description, scope, singleton, closeMethod) becomes a session property; `password`
// is taken out and handed to JavaMail through an Authenticator for mail.smtp.user (or mail.user).
// Usage: java Tomcat9MailSession <context.xml> <resource name> <to> <subject>
// Exit codes: 0 sent, 2 the send failed (the exception chain is printed), 3 no such Resource.

import java.io.File;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Properties;
import java.util.Set;
import javax.mail.Authenticator;
import javax.mail.Message;
import javax.mail.MessagingException;
import javax.mail.PasswordAuthentication;
import javax.mail.Session;
import javax.mail.Transport;
import javax.mail.internet.InternetAddress;
import javax.mail.internet.MimeMessage;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Element;
import org.w3c.dom.NamedNodeMap;
import org.w3c.dom.NodeList;

public final class Tomcat9MailSession {
    private static final Set<String> RESOURCE_ATTRIBUTES = new HashSet<String>(Arrays.asList(
            "name", "auth", "type", "factory", "description", "scope", "singleton", "closeMethod"));

    private Tomcat9MailSession() {
    }

    public static void main(String[] args) throws Exception {
        NodeList resources = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(new File(args[0]))
                .getElementsByTagName("Resource");
        Element resource = null;
        for (int i = 0; i < resources.getLength(); i++) {
            Element candidate = (Element) resources.item(i);
            if (args[1].equals(candidate.getAttribute("name"))) {
                resource = candidate;
            }
        }
        if (resource == null) {
            System.err.println("no Resource named " + args[1]);
            System.exit(3);
        }
        // MailSessionFactory's defaults, then the Resource's attributes over them.
        Properties props = new Properties();
        props.put("mail.transport.protocol", "smtp");
        props.put("mail.smtp.host", "localhost");
        String password = null;
        NamedNodeMap attributes = resource.getAttributes();
        for (int i = 0; i < attributes.getLength(); i++) {
            String name = attributes.item(i).getNodeName();
            String value = attributes.item(i).getNodeValue();
            if ("password".equals(name)) {
                password = value;
            } else if (!RESOURCE_ATTRIBUTES.contains(name)) {
                props.put(name, value);
            }
        }
        Authenticator authenticator = null;
        if (password != null) {
            String user = props.getProperty("mail.smtp.user", props.getProperty("mail.user"));
            if (user != null) {
                final PasswordAuthentication credentials = new PasswordAuthentication(user, password);
                authenticator = new Authenticator() {
                    @Override
                    protected PasswordAuthentication getPasswordAuthentication() {
                        return credentials;
                    }
                };
            }
        }
        Session session = Session.getInstance(props, authenticator);
        try {
            MimeMessage message = new MimeMessage(session);
            message.setFrom();
            message.setRecipients(Message.RecipientType.TO, InternetAddress.parse(args[2]));
            message.setSubject(args[3], "UTF-8");
            message.setText("Sent through a session built as Tomcat 9 builds it\n", "UTF-8");
            Transport.send(message);
            System.out.println("SENT");
        } catch (MessagingException e) {
            for (Throwable t = e; t != null; t = t.getCause()) {
                System.out.println(t.getClass().getName() + ": " + t.getMessage());
            }
            System.exit(2);
        }
    }
}
