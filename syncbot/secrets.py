"""Secrets by reference only: a file, an environment variable or a systemd credential.

A password written inline in the config would end up in backups, diffs and support
tickets, so the loader refuses it and names the three accepted forms instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from syncbot.errors import ConfigError
from syncbot.file_perms import check_protected

SUFFIXES = ("_file", "_env", "_credential")


def secret_keys(name: str) -> set[str]:
    return {name, *(name + suffix for suffix in SUFFIXES)}


def resolve_secret(
    table: Mapping[str, Any], name: str, *, source: str, section: str, base: Path
) -> str:
    """Read the secret `name` of a config table from exactly one of its references.

    A relative `_file` path is taken from `base`, the config file's folder.
    """
    where = f"{section}.{name}"
    if name in table:
        raise ConfigError(
            f"secrets are not accepted inline; use {name}_file, {name}_env or {name}_credential",
            source=source,
            key=where,
        )
    given = [name + s for s in SUFFIXES if name + s in table]
    if len(given) != 1:
        problem = "is required" if not given else "is given more than one way"
        raise ConfigError(
            f"{problem}: set exactly one of {name}_file, {name}_env, {name}_credential",
            source=source,
            key=where,
        )
    key = given[0]
    ref = table[key]
    if not isinstance(ref, str) or not ref:
        raise ConfigError("must be a non-empty string", source=source, key=f"{section}.{key}")
    if key.endswith("_env"):
        value = os.environ.get(ref)
        if value is None:
            raise ConfigError(
                f"environment variable {ref} is not set", source=source, key=f"{section}.{key}"
            )
        return value
    if key.endswith("_credential"):
        directory = os.environ.get("CREDENTIALS_DIRECTORY")
        if not directory:
            raise ConfigError(
                "CREDENTIALS_DIRECTORY is not set (run under systemd with LoadCredential=)",
                source=source,
                key=f"{section}.{key}",
            )
        return _read_secret_file(Path(directory) / ref, source, f"{section}.{key}")
    return _read_secret_file(base / Path(ref).expanduser(), source, f"{section}.{key}")


def _read_secret_file(path: Path, source: str, key: str) -> str:
    try:
        with path.open(encoding="utf-8") as handle:
            check_protected(handle.fileno(), str(path), what="secret file", source=source, key=key)
            value = handle.read()
    except OSError as exc:
        raise ConfigError(
            f"cannot read secret file {path}: {exc.strerror}", source=source, key=key
        ) from None
    # One trailing newline is an editor's doing, not part of the password.
    value = value[:-1] if value.endswith("\n") else value
    if not value:
        raise ConfigError(f"secret file {path} is empty", source=source, key=key)
    return value
