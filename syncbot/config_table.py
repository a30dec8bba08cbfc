"""Reading one table of the TOML config: type checks, and errors that name the key path.

Every part of syncbot parses its own table next to the dataclass it fills (targets, the
worker, the duties); this reader is what they share, so a mistake reads the same
wherever it is made and a misspelt key is reported instead of silently ignored.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from syncbot.errors import ConfigError
from syncbot.secrets import resolve_secret, secret_keys


class Table:
    """A config table that remembers which keys were read, so typos are reported, not ignored.

    `base` is the config file's folder: relative paths and secret files are taken from it.
    """

    def __init__(self, data: Any, name: str, source: str, base: Path) -> None:
        if not isinstance(data, dict):
            raise ConfigError("must be a table", source=source, key=name)
        self.data: dict[str, Any] = data
        self.name = name
        self.source = source
        self.base = base
        self.used: set[str] = set()

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def key(self, key: str) -> str:
        return f"{self.name}.{key}" if self.name else key

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(message, source=self.source, key=self.key(key))

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        self.used.add(key)
        if key not in self.data:
            return default
        value = self.data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        # A TOML date-time is a `datetime`, which Python counts as a `date`: a day is meant.
        wrong_date = kind is date and isinstance(value, datetime)
        if (
            wrong_date
            or not isinstance(value, kind)
            or (isinstance(value, bool) and kind in (int, float))
        ):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise self.error(key, f"must be a {names}, got {type(value).__name__}")
        return value

    def require(self, key: str, kind: type) -> Any:
        value = self.get(key, kind)
        if value is None or value == "":
            raise self.error(key, "is required")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value: str = self.get(key, str, default)
        if value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.get(key, list, [])
        if not all(isinstance(v, str) and v for v in value):
            raise self.error(key, "must be a list of non-empty strings")
        return tuple(value)

    def table(self, key: str) -> Table:
        self.used.add(key)
        return Table(self.data.get(key, {}), self.key(key), self.source, self.base)

    def share(self, key: str, default: float) -> float:
        value: float = self.get(key, float, default)
        if not 0.0 <= value <= 1.0:
            raise self.error(key, f"must be a share between 0 and 1 (0.1 = 10 %), got {value}")
        return value

    def positive(self, key: str, kind: type, default: Any) -> Any:
        value = self.get(key, kind, default)
        if value <= 0:
            raise self.error(key, "must be positive")
        return value

    def optional_positive(self, key: str) -> int | None:
        return self.positive(key, int, None) if key in self.data else None

    def required_positive(self, key: str) -> int:
        self.require(key, int)
        value: int = self.positive(key, int, None)
        return value

    def path(self, value: str) -> Path:
        """A path as written in the config, taken from the config file's folder."""
        return (self.base / Path(value).expanduser()).resolve()

    def secret(self, name: str) -> str:
        """The secret `name`, given by exactly one reference (`name_file`, `name_env`...)."""
        value = resolve_secret(
            self.data, name, source=self.source, section=self.name, base=self.base
        )
        self.used |= secret_keys(name)
        return value

    def optional_secret(self, name: str) -> str | None:
        self.used |= secret_keys(name)
        if not secret_keys(name) & set(self.data):
            return None
        return self.secret(name)

    def done(self) -> None:
        unknown = set(self.data) - self.used
        if unknown:
            raise self.error(sorted(unknown)[0], "unknown setting (misspelt?)")
