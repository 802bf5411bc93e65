#!/usr/bin/env bash
# ensure-user.sh: create the mail_owner system account (default "postern") when run as
# root and the account is missing. As any other user it does nothing: postern then runs
# every process as that user.
#   scripts/ensure-user.sh [NAME]
set -euo pipefail
name=${1:-postern}
[[ $(id -u) -eq 0 ]] || exit 0
getent passwd "$name" >/dev/null && exit 0
echo "postern: creating system account $name" >&2
useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin --comment "postern mail system" "$name"
