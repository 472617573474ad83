#!/usr/bin/env bash
# Install the Debian packages the integration tests need as real peers: a DNS server
# (dnsmasq), swaks (benchmark baseline), Tomcat 10 with Jakarta Mail, JavaMail 1.6 (javax, for the
# Tomcat 9 style proof and test_send client java), a JDK for keytool/javac,
# headless Chromium with a font, which renders the audit report's HTML page in its test, and
# the linter ansible-test sanity runs on shell scripts (Debian package shellcheck), and what the
# execution-environment test builds and runs its image with: rootful Podman with runc (crun cannot
# run on hosts with hybrid cgroups) and debootstrap for the local base image, and sshd
# (openssh-server) for the managed hosts of the SSH fleet benchmark and molecule scenario; swaks
# speaks TLS only with Net::SSLeay (libnet-ssleay-perl, a Recommends that --no-install-recommends drops).
# bindep.txt's `test` profile lists the same packages (tests/integration/test_bindep.py checks it).
# Installs only what is missing, so a second run costs a dpkg query.
set -euo pipefail
packages=(dnsmasq-base swaks tomcat10 libjakarta-mail-java libjakarta-activation-java libmail-java dnsutils chromium fonts-dejavu-core shellcheck podman runc debootstrap openssh-server libnet-ssleay-perl)
command -v javac >/dev/null 2>&1 || packages+=(openjdk-17-jdk-headless)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
