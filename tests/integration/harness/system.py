"""system.py: who the tests run as, and handing files to the accounts the peers drop to.

As root, postern's daemons run as mail_owner (postern), Postfix as postfix and smtp-sink as
nobody: folders they write to must belong to them. As anyone else, everything runs as
that user and no ownership change is needed (or possible).
"""
import os
import pwd
import shutil


def is_root():
    """True when the tests run as root (as in CI)."""
    return os.geteuid() == 0


def user_exists(name):
    """True when the account name exists."""
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def give_to(path, user):
    """Makes path belong to user (and that user's group) when running as root; else nothing."""
    if not is_root():
        return
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def program(path):
    """path when it is an executable file, else None (to skip tests whose peer is missing)."""
    found = shutil.which(path)
    return found if found and os.access(found, os.X_OK) else None
