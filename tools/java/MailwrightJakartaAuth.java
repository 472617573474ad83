// Copyright (c) mailwright contributors
// GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
// SPDX-License-Identifier: GPL-3.0-or-later

/** The password for a jakarta.mail session, the way Tomcat's mail session factory hands it over. */
public final class MailwrightJakartaAuth extends jakarta.mail.Authenticator {
    @Override
    protected jakarta.mail.PasswordAuthentication getPasswordAuthentication() {
        return new jakarta.mail.PasswordAuthentication(MailwrightProof.user, MailwrightProof.password);
    }
}
