"""Mappings: the organisation's vocabulary (positions, roles, status words, units) as data.

Shipped defaults live in `mappings/`; a deployment points at its own copies in the config.
Keys are compared after `fold`, so spelling variants of one title are one key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syncbot.errors import ConfigError
from syncbot.match_keys import fold, nfc
from syncbot.model import Status, TargetMapping, Vocabulary

MAPPING_FILES = ("positions", "roles", "statuses", "units")


@dataclass(frozen=True, slots=True)
class RoleDef:
    name: str
    aliases: tuple[str, ...]
    targets: Mapping[str, tuple[str, ...]]  # target name -> references in that target


@dataclass(frozen=True, slots=True)
class UnitDef:
    name: str
    targets: Mapping[str, str]  # target name -> reference of the unit group


@dataclass(frozen=True, slots=True)
class Mappings:
    positions: Mapping[str, str]  # folded position -> canonical role name
    roles: Mapping[str, RoleDef]  # canonical role name -> definition
    statuses: Mapping[str, Status]  # folded status word -> status
    units: Mapping[str, UnitDef]  # folded unit name -> definition
    files: Mapping[str, Path]

    def vocabulary(self) -> Vocabulary:
        role_words: dict[str, str] = {}
        for role in self.roles.values():
            for word in (role.name, *role.aliases):
                role_words[fold(word)] = role.name
        return Vocabulary(statuses=self.statuses, roles=role_words)

    def role_for_position(self, position: str) -> str | None:
        return self.positions.get(fold(position))

    def target_names(self) -> set[str]:
        names = {t for role in self.roles.values() for t in role.targets}
        return names | {t for unit in self.units.values() for t in unit.targets}

    def for_target(self, target: str, key: Callable[[str], str]) -> TargetMapping:
        """Resolve the references of one target into that target's entitlement keys."""
        roles = {
            role.name: frozenset(key(ref) for ref in role.targets.get(target, ()))
            for role in self.roles.values()
        }
        units = {
            folded: key(unit.targets[target])
            for folded, unit in self.units.items()
            if target in unit.targets
        }
        return TargetMapping(roles=roles, units=units)


def load_mappings(directory: Path, overrides: Mapping[str, Path] | None = None) -> Mappings:
    """Load the four mapping files from `directory`, any of them replaced by `overrides`."""
    files = {name: directory / f"{name}.toml" for name in MAPPING_FILES}
    files.update(overrides or {})
    roles = _load_roles(files["roles"])
    return Mappings(
        positions=_load_positions(files["positions"], roles),
        roles=roles,
        statuses=_load_statuses(files["statuses"]),
        units=_load_units(files["units"]),
        files=files,
    )


def _read(path: Path, table: str) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError("mapping file not found", source=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=str(path)) from None
    unknown = set(data) - {table}
    if unknown:
        raise ConfigError(
            f"unknown table, expected only [{table}]", source=str(path), key=sorted(unknown)[0]
        )
    body = data.get(table)
    if not isinstance(body, dict) or not body:
        raise ConfigError(f"missing or empty [{table}] table", source=str(path), key=table)
    return body


def _text(value: Any, path: Path, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("must be a non-empty string", source=str(path), key=key)
    return nfc(value)


def _put_once(target: dict[str, Any], word: str, value: Any, path: Path, key: str) -> None:
    """Refuse two spellings of one word with different meanings: the file would be ambiguous."""
    folded = fold(word)
    if folded in target and target[folded] != value:
        raise ConfigError(
            f"{word!r} is listed twice with different meanings", source=str(path), key=key
        )
    target[folded] = value


def _load_roles(path: Path) -> dict[str, RoleDef]:
    roles: dict[str, RoleDef] = {}
    seen: dict[str, str] = {}
    for raw_name, body in _read(path, "roles").items():
        name = _text(raw_name, path, f"roles.{raw_name}")
        if not isinstance(body, dict):
            raise ConfigError("must be a table", source=str(path), key=f"roles.{raw_name}")
        aliases: tuple[str, ...] = ()
        targets: dict[str, tuple[str, ...]] = {}
        for key, value in body.items():
            where = f"roles.{raw_name}.{key}"
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError("must be a list of strings", source=str(path), key=where)
            if key == "aliases":
                aliases = tuple(nfc(v) for v in value)
            else:
                targets[key] = tuple(_text(v, path, where) for v in value)
        for word in (name, *aliases):
            _put_once(seen, word, name, path, f"roles.{raw_name}")
        roles[name] = RoleDef(name=name, aliases=aliases, targets=targets)
    return roles


def _load_positions(path: Path, roles: Mapping[str, RoleDef]) -> dict[str, str]:
    by_word = {
        fold(word): role.name for role in roles.values() for word in (role.name, *role.aliases)
    }
    positions: dict[str, str] = {}
    for position, role in _read(path, "positions").items():
        where = f"positions.{position}"
        canonical = by_word.get(fold(_text(role, path, where)))
        if canonical is None:
            raise ConfigError(
                f"unknown role {role!r}; roles are: {', '.join(roles)}", source=str(path), key=where
            )
        _put_once(positions, position, canonical, path, where)
    return positions


def _load_statuses(path: Path) -> dict[str, Status]:
    statuses: dict[str, Status] = {}
    for status_name, words in _read(path, "statuses").items():
        where = f"statuses.{status_name}"
        try:
            status = Status(status_name)
        except ValueError:
            allowed = ", ".join(s.value for s in Status)
            raise ConfigError(
                f"unknown status, expected one of: {allowed}", source=str(path), key=where
            ) from None
        if not isinstance(words, list) or not words:
            raise ConfigError("must be a non-empty list of words", source=str(path), key=where)
        for word in words:
            _put_once(statuses, _text(word, path, where), status, path, where)
    # Leave is optional: a mapping written before it existed stays valid.
    missing = {s for s in Status if s is not Status.ON_LEAVE} - set(statuses.values())
    if missing:
        raise ConfigError(
            "no words for: " + ", ".join(sorted(s.value for s in missing)),
            source=str(path),
            key="statuses",
        )
    return statuses


def _load_units(path: Path) -> dict[str, UnitDef]:
    units: dict[str, UnitDef] = {}
    for raw_name, body in _read(path, "units").items():
        where = f"units.{raw_name}"
        name = _text(raw_name, path, where)
        if not isinstance(body, dict):
            raise ConfigError("must be a table of target = group", source=str(path), key=where)
        targets = {t: _text(ref, path, f"{where}.{t}") for t, ref in body.items()}
        _put_once(units, name, UnitDef(name=name, targets=targets), path, where)
    return units
