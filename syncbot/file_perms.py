"""Refusing a config or secret file someone other than its administrator could have changed.

Whoever can write the config decides which directory syncbot binds to and with what
rights, and whoever can write a secret file can swap the password: like ssh with an
"UNPROTECTED PRIVATE KEY FILE", syncbot refuses such a file instead of trusting it. A
file is trusted when it is owned by root or by the user syncbot runs as, and no group
or other user may write it. systemd credentials ($CREDENTIALS_DIRECTORY) are owned by
root or the service's user with mode 0400, so they pass.

The check is made on the open file (`os.fstat`), so the file judged is the file read.
"""

from __future__ import annotations

import os
import pwd
import stat

from syncbot.errors import ConfigError

#: Write bits that let someone other than the owner change the file.
_WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH


def check_protected(
    fd: int, path: str, *, what: str, source: str | None = None, key: str | None = None
) -> None:
    """Raise `ConfigError` naming `path` when the open file `fd` is not safe to trust.

    `what` says which kind of file it is ("config file", "secret file") in the message.
    """
    info = os.fstat(fd)
    problem = unprotected_because(info.st_uid, info.st_mode)
    if problem is not None:
        raise ConfigError(
            f"UNPROTECTED {what.upper()} {path}: {problem}. Anyone who can change it "
            f"can change what syncbot does, so it is refused (fix: chown root {path}; "
            f"chmod go-w {path})",
            source=source,
            key=key,
        )


def unprotected_because(owner: int, mode: int) -> str | None:
    """Why a file with this owner and mode must not be trusted, or None when it may be."""
    running = os.geteuid()
    if owner not in (0, running):
        return (
            f"owned by {_user_name(owner)}, not by root or by {_user_name(running)}, "
            "the user syncbot runs as"
        )
    if mode & _WRITABLE_BY_OTHERS:
        who = " and ".join(
            name
            for bit, name in ((stat.S_IWGRP, "its group"), (stat.S_IWOTH, "every user"))
            if mode & bit
        )
        return f"writable by {who} (mode {stat.S_IMODE(mode):04o})"
    return None


def _user_name(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"
