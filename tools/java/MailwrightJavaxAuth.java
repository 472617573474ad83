// Copyright (c) mailwright contributors
// GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
// SPDX-License-Identifier: GPL-3.0-or-later

/** The password for a javax.mail session, the way Tomcat's mail session factory hands it over. */
public final class MailwrightJavaxAuth extends javax.mail.Authenticator {
    @Override
    protected javax.mail.PasswordAuthentication getPasswordAuthentication() {
        return new javax.mail.PasswordAuthentication(MailwrightProof.user, MailwrightProof.password);
    }
}
