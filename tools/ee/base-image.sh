#!/usr/bin/env bash
# Make the local base image the execution-environment test builds on, when no image registry is
# reachable: a minimal Debian bookworm with python3, pip and venv (debootstrap), imported into
# rootful Podman. The host's local CAs (/usr/local/share/ca-certificates) go into the image's
# system bundle, so apt and pip inside the build trust what the host trusts (a registry reached
# through a private CA). Built once; a second run costs `podman image exists`.
#   tools/ee/base-image.sh [IMAGE]    (default localhost/mailwright-ee-base:bookworm)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
image=${1:-localhost/mailwright-ee-base:bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}
if podman image exists "$image"; then
  echo "$image"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
rootfs=$(mktemp -d "${TMPDIR:-/tmp}/mailwright-ee-rootfs.XXXXXX")
trap '$sudo rm -rf "$rootfs"' EXIT
echo "debootstrap bookworm into $rootfs (about 90 s)" >&2
$sudo debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates \
  bookworm "$rootfs" "$mirror" >&2
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  $sudo cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
  $sudo chroot "$rootfs" update-ca-certificates >&2
fi
$sudo rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
$sudo tar -C "$rootfs" -cf - . | podman import - "$image" >&2
echo "$image"
