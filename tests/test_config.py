"""Config loading: every mistake names its key; secrets come only by reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncbot.config import load_config
from syncbot.errors import ConfigError

BASE = """
[roster]
path = "nhan-su.csv"

[targets.ldap]
url = "ldap://127.0.0.1:3890"
bind_dn = "cn=syncbot,ou=system,dc=example"
{secret}
users_base = "ou=people,dc=example"
groups_base = "ou=groups,dc=example"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "syncbot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def with_secret(tmp_path: Path, secret: str, extra: str = "") -> Path:
    return write(tmp_path, BASE.format(secret=secret) + extra)


def test_minimal_config_with_password_file(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret-value\n", encoding="utf-8")
    config = load_config(with_secret(tmp_path, 'bind_password_file = "pw"'))
    ldap = config.targets["ldap"]
    assert ldap.bind_password == "s3cret-value"  # one trailing newline dropped
    assert ldap.flavour == "openldap"
    assert config.roster.path == tmp_path / "nhan-su.csv"  # relative to the config file
    assert config.mappings_dir == tmp_path / "mappings"
    assert config.safety.max_disable_share == pytest.approx(0.10)
    assert "s3cret-value" not in repr(config)


def test_password_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCBOT_LDAP_PW", "from-env")
    config = load_config(with_secret(tmp_path, 'bind_password_env = "SYNCBOT_LDAP_PW"'))
    assert config.targets["ldap"].bind_password == "from-env"


def test_password_from_systemd_credential(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "ldap-password").write_text("from-credential", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    config = load_config(with_secret(tmp_path, 'bind_password_credential = "ldap-password"'))
    assert config.targets["ldap"].bind_password == "from-credential"


@pytest.mark.parametrize(
    ("secret", "key", "words"),
    [
        ('bind_password = "inline"', "targets.ldap.bind_password", "not accepted inline"),
        ("", "targets.ldap.bind_password", "is required"),
        (
            'bind_password_file = "a"\nbind_password_env = "B"',
            "targets.ldap.bind_password",
            "more than one way",
        ),
        (
            'bind_password_env = "SYNCBOT_SURELY_UNSET"',
            "targets.ldap.bind_password_env",
            "SYNCBOT_SURELY_UNSET is not set",
        ),
        ('bind_password_file = "missing"', "targets.ldap.bind_password_file", "cannot read"),
        (
            'bind_password_credential = "x"',
            "targets.ldap.bind_password_credential",
            "CREDENTIALS_DIRECTORY",
        ),
    ],
)
def test_secret_mistakes_name_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret: str, key: str, words: str
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    with pytest.raises(ConfigError) as err:
        load_config(with_secret(tmp_path, secret))
    assert err.value.key == key
    assert words in str(err.value)
    assert "inline" not in str(err.value) or "inline" in words  # the value is never echoed


@pytest.mark.parametrize(
    ("extra", "key", "words"),
    [
        ("\n[safety]\nmax_disable_share = 10\n", "safety.max_disable_share", "between 0 and 1"),
        ("\n[safety]\nmin_roster_rows = -1\n", "safety.min_roster_rows", "negative"),
        ("\n[safety]\nmax_disabel_share = 0.1\n", "safety.max_disabel_share", "unknown setting"),
        ('\n[matching]\nfallback = "phone"\n', "matching.fallback", "one of"),
        ('\n[roster.headers]\nsalary = "Lương"\n', "roster.headers.salary", "unknown roster"),
        ('\n[log]\nlevel = "loud"\n', "log.level", "one of"),
        ("\n[colour]\nx = 1\n", "colour", "unknown setting"),
    ],
)
def test_setting_mistakes_name_the_key(tmp_path: Path, extra: str, key: str, words: str) -> None:
    (tmp_path / "pw").write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(with_secret(tmp_path, 'bind_password_file = "pw"', extra))
    assert err.value.key == key
    assert words in str(err.value)
    assert str(tmp_path / "syncbot.toml") in str(err.value)


def test_target_mistakes(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("x", encoding="utf-8")
    text = BASE.format(secret='bind_password_file = "pw"')
    cases = [
        (text.replace("ldap://", "http://"), "targets.ldap.url"),
        (text.replace('users_base = "ou=people,dc=example"\n', ""), "targets.ldap.users_base"),
        (text + 'flavour = "novell"\n', "targets.ldap.flavour"),
        (text + "page_size = 0\n", "targets.ldap.page_size"),
        (text + 'start_tls = "yes"\n', "targets.ldap.start_tls"),
        (text + "colour = 1\n", "targets.ldap.colour"),
    ]
    for body, key in cases:
        with pytest.raises(ConfigError) as err:
            load_config(write(tmp_path, body))
        assert err.value.key == key, body


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[roster\n"))
