#!/usr/bin/env bash
# Prepare the ansible_collections/mailwright/smtp layout that Ansible's tools need, without
# asking anyone to move the checkout:
#   .build/collections  -> a symlink to this checkout (ansible, ansible-doc, molecule, pytest)
#   .build/sanity       -> a copy of the tracked tree (ansible-test refuses symlinked roots)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-link}
case "$mode" in
  link)
    mkdir -p "$root/.build/collections/ansible_collections/mailwright"
    ln -sfn "$root" "$root/.build/collections/ansible_collections/mailwright/smtp"
    ;;
  copy)
    dest="$root/.build/sanity/ansible_collections/mailwright/smtp"
    rm -rf "$dest" && mkdir -p "$dest"
    cd "$root"
    # tracked files plus new files git does not ignore: what a commit would hold
    git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
      [ -e "$f" ] || continue
      mkdir -p "$dest/$(dirname "$f")" && cp -p "$f" "$dest/$f"
    done
    # ansible-test lists files through git; the copy sits inside an ignored folder of ours
    (cd "$dest" && git init -q && git add -A)
    echo "$dest"
    ;;
  *) echo "usage: $0 link|copy" >&2; exit 2 ;;
esac
