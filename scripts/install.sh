#!/usr/bin/env bash
# install.sh: `make install`: copies a built postern into DESTDIR/PREFIX.
#   PREFIX=/usr/local DESTDIR= BUILD=build MAIL_OWNER=postern scripts/install.sh
#
#   PREFIX/sbin/postern                       the command
#   PREFIX/libexec/postern/{master,smtpd,qmgr,smtp}
#   PREFIX/lib/postern/{sendmail,mailq}       always; and as PREFIX/sbin/sendmail and
#                                             PREFIX/bin/mailq only when those names are
#                                             free (or an earlier postern's): another MTA's
#                                             sendmail is never replaced
#   CONFDIR/postern.conf                      only when missing (an edited one is kept);
#   CONFDIR/postern.conf.default              always, the shipped defaults to compare with
#                                             CONFDIR is /etc/postern for PREFIX=/usr, else
#                                             PREFIX/etc/postern
#   PREFIX/lib/systemd/system/postern.service Type=notify
# As root and without DESTDIR, the mail_owner account is created when missing.
set -euo pipefail

PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
BUILD=${BUILD:-build}
MAIL_OWNER=${MAIL_OWNER:-postern}
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

if [[ $PREFIX == /usr ]]; then confdir=/etc/postern; else confdir=$PREFIX/etc/postern; fi

say() { echo "postern install: $*"; }

# The binary at $1 is a postern program (an earlier install of ours), not another MTA's.
is_postern_program() { grep -qa "POSTERN_CONF" "$1" 2>/dev/null; }

install_programs() {
    [[ -x $BUILD/sbin/postern && -x $BUILD/libexec/postern/master ]] ||
        { say "$BUILD/sbin/postern or $BUILD/libexec/postern/master is missing: run make first" >&2; exit 1; }
    install -D -m 0755 "$BUILD/sbin/postern" "$DESTDIR$PREFIX/sbin/postern"
    for daemon in master smtpd qmgr smtp; do
        if [[ -x $BUILD/libexec/postern/$daemon ]]; then
            install -D -m 0755 "$BUILD/libexec/postern/$daemon" "$DESTDIR$PREFIX/libexec/postern/$daemon"
        else
            say "warning: $BUILD/libexec/postern/$daemon is not built; not installed" >&2
        fi
    done
}

# sendmail and mailq: their own copies in lib/postern/, the usual names only when free.
install_compatibility_names() {
    local name usual
    for name in sendmail mailq; do
        [[ -x $BUILD/bin/$name ]] || { say "warning: $BUILD/bin/$name is not built; not installed" >&2; continue; }
        install -D -m 0755 "$BUILD/bin/$name" "$DESTDIR$PREFIX/lib/postern/$name"
        if [[ $name == sendmail ]]; then usual=$PREFIX/sbin/sendmail; else usual=$PREFIX/bin/mailq; fi
        if [[ ! -e $DESTDIR$usual ]] || is_postern_program "$DESTDIR$usual"; then
            install -D -m 0755 "$BUILD/bin/$name" "$DESTDIR$usual"
        else
            say "$usual belongs to another program and is left alone; postern's is $PREFIX/lib/postern/$name"
        fi
    done
}

install_configuration() {
    local default=$DESTDIR$confdir/postern.conf.default
    install -d -m 0755 "$DESTDIR$confdir"
    sed -e 's|^queue_directory = .*;|queue_directory = "/var/spool/postern";|' \
        -e 's|^log_file = .*;|log_file = "syslog";|' conf/postern.conf > "$default.tmp"
    grep -q '^queue_directory = "/var/spool/postern";$' "$default.tmp" &&
        grep -q '^log_file = "syslog";$' "$default.tmp" ||
        { say "conf/postern.conf: no queue_directory or log_file line to set" >&2; exit 1; }
    chmod 0644 "$default.tmp"
    mv "$default.tmp" "$default"
    if [[ -e $DESTDIR$confdir/postern.conf ]]; then
        say "$confdir/postern.conf exists and is kept; the shipped defaults are in postern.conf.default"
    else
        install -m 0644 "$default" "$DESTDIR$confdir/postern.conf"
    fi
}

install_systemd_unit() {
    local unit=$DESTDIR$PREFIX/lib/systemd/system/postern.service
    install -d -m 0755 "$(dirname "$unit")"
    cat > "$unit" <<EOF
# postern.service: the postern mail transfer agent (installed by postern's make install).
[Unit]
Description=postern mail transfer agent
After=network-online.target nss-lookup.target
Wants=network-online.target

[Service]
# master sends READY=1 once its sockets are bound and its services started, RELOADING=1
# and READY=1 around a reload, STOPPING=1 when it stops.
Type=notify
NotifyAccess=main
ExecStartPre=$PREFIX/sbin/postern -c $confdir/postern.conf check
ExecStart=$PREFIX/sbin/postern -c $confdir/postern.conf start --foreground
ExecReload=/bin/kill -HUP \$MAINPID
# SIGTERM to master only: it stops its children gracefully (15 s at most), then exits.
KillMode=mixed
TimeoutStopSec=40
Restart=on-failure
RestartSec=5
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
EOF
    chmod 0644 "$unit"
}

install_programs
install_compatibility_names
install_configuration
install_systemd_unit

if [[ -z $DESTDIR && $(id -u) -eq 0 ]]; then
    scripts/ensure-user.sh "$MAIL_OWNER"
elif [[ -n $DESTDIR ]]; then
    say "DESTDIR is set: the $MAIL_OWNER account is not created here (scripts/ensure-user.sh on the target)"
fi
say "installed into $DESTDIR$PREFIX (configuration: $confdir/postern.conf)"
