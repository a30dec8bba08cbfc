"""Config and secret files others could change are refused; insecure connections to
another machine are refused unless the target allows them, and then warned about."""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from localdev.demo import REPO_MAPPINGS
from syncbot.config import load_config
from syncbot.errors import ConfigError
from syncbot.file_perms import unprotected_because
from syncbot.targets.insecure import warn_insecure
from syncbot.targets.keycloak.settings import KeycloakSettings
from syncbot.targets.ldap.settings import LdapSettings

REPO = Path(__file__).resolve().parents[1]
ROOT = os.geteuid() == 0


def write_config(folder: Path, target: str) -> Path:
    (folder / "nhan-su.csv").write_text("", encoding="utf-8")
    secret = folder / "ldap-password"
    secret.write_text("bi-mat\n", encoding="utf-8")
    secret.chmod(0o600)
    config = folder / "syncbot.toml"
    config.write_text(
        textwrap.dedent(
            f"""\
            [roster]
            path = "nhan-su.csv"

            [mappings]
            dir = "{REPO_MAPPINGS}"

            [targets.directory]
            bind_dn = "cn=syncbot,dc=example"
            bind_password_file = "ldap-password"
            users_base = "ou=people,dc=example"
            groups_base = "ou=groups,dc=example"
            password_policy_dn = "cn=default,dc=example"
            """
        )
        + textwrap.dedent(target),
        encoding="utf-8",
    )
    config.chmod(0o644)
    return config


LOOPBACK = 'url = "ldap://127.0.0.1:389"\n'


@pytest.fixture
def nobody() -> Iterator[int]:
    if not ROOT:
        pytest.fail("changing a file's owner needs root; these tests run as root in CI")
    yield pwd.getpwnam("nobody").pw_uid


# -- 2. files others could change -------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o666, 0o664, 0o646])
def test_a_config_writable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    config = write_config(tmp_path, LOOPBACK)
    config.chmod(mode)
    with pytest.raises(ConfigError) as refused:
        load_config(config)
    message = str(refused.value)
    assert message.startswith(f"UNPROTECTED CONFIG FILE {config}: writable by")
    assert f"{mode:04o}" in message


def test_a_config_owned_by_another_user_is_refused(tmp_path: Path, nobody: int) -> None:
    config = write_config(tmp_path, LOOPBACK)
    os.chown(config, nobody, -1)
    with pytest.raises(ConfigError, match=r"owned by nobody \(uid \d+\), not by root"):
        load_config(config)


def test_a_secret_file_writable_or_owned_by_others_is_refused(tmp_path: Path, nobody: int) -> None:
    config = write_config(tmp_path, LOOPBACK)
    secret = tmp_path / "ldap-password"
    secret.chmod(0o620)
    with pytest.raises(ConfigError) as refused:
        load_config(config)
    assert refused.value.key == "targets.directory.bind_password_file"
    assert f"UNPROTECTED SECRET FILE {secret}: writable by its group" in str(refused.value)
    secret.chmod(0o400)
    os.chown(secret, nobody, -1)
    with pytest.raises(ConfigError, match=r"UNPROTECTED SECRET FILE.*owned by nobody"):
        load_config(config)


def test_files_of_root_or_the_running_user_that_only_they_write_are_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, LOOPBACK.replace("\n", '\nbind_password_credential = "pw"\n'))
    config.write_text(
        config.read_text("utf-8").replace('bind_password_file = "ldap-password"\n', ""),
        encoding="utf-8",
    )
    credentials = tmp_path / "credentials"  # as systemd's LoadCredential= leaves them
    credentials.mkdir()
    (credentials / "pw").write_text("bi-mat", encoding="utf-8")
    (credentials / "pw").chmod(0o400)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    settings = load_config(config).targets["directory"]
    assert isinstance(settings, LdapSettings) and settings.bind_password == "bi-mat"
    assert unprotected_because(0, stat.S_IFREG | 0o640) is None
    assert unprotected_because(os.geteuid(), stat.S_IFREG | 0o600) is None


def test_check_config_says_why_it_refuses_the_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, LOOPBACK)
    config.chmod(0o666)
    done = subprocess.run(
        [sys.executable, "-m", "syncbot", "--config", str(config), "check-config"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3
    assert f"syncbot: UNPROTECTED CONFIG FILE {config}: writable by" in done.stderr
    assert "chmod go-w" in done.stderr


# -- 3. insecure connections -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "key"),
    [
        ('url = "ldap://ldap.tinhmau.gov.vn"\n', "url"),
        ('url = "ldaps://ldap.tinhmau.gov.vn"\ntls_verify = false\n', "tls_verify"),
        ('url = "ldap://10.0.0.5"\nstart_tls = true\ntls_verify = false\n', "tls_verify"),
    ],
)
def test_insecure_ldap_is_refused_without_the_flag(tmp_path: Path, target: str, key: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(write_config(tmp_path, target))
    assert refused.value.key == f"targets.directory.{key}"
    assert "allow_insecure = true" in str(refused.value)


@pytest.mark.parametrize(
    "target",
    [
        'url = "ldap://127.0.0.1:3389"\n',
        'url = "ldap://localhost"\n',
        'url = "ldap://[::1]:389"\n',
        'url = "ldaps://ldap.tinhmau.gov.vn"\n',
        'url = "ldap://ldap.tinhmau.gov.vn"\nstart_tls = true\n',
    ],
)
def test_loopback_and_verified_tls_need_no_flag(tmp_path: Path, target: str) -> None:
    settings = load_config(write_config(tmp_path, target)).targets["directory"]
    assert isinstance(settings, LdapSettings) and settings.insecure_reasons == []


def test_allowed_insecure_ldap_loads_and_warns_every_time_it_is_opened(tmp_path: Path) -> None:
    target = 'url = "ldap://ldap.tinhmau.gov.vn"\nallow_insecure = true\n'
    settings = load_config(write_config(tmp_path, target)).targets["directory"]
    assert isinstance(settings, LdapSettings) and settings.allow_insecure
    from syncbot.targets.ldap.target import LdapTarget

    with capture_logs() as logs:
        LdapTarget(settings).close()
        LdapTarget(settings).close()
    warned = [e for e in logs if e["event"] == "insecure_connection"]
    assert len(warned) == 2
    assert {e["target"] for e in warned} == {"directory"} and "plain ldap://" in warned[0]["why"]
    assert all(e["log_level"] == "warning" for e in warned)


def keycloak_table(url: str, extra: str = "") -> str:
    return (
        textwrap.dedent(
            f"""\
        url = "ldap://127.0.0.1:389"

        [targets.sso]
        type = "keycloak"
        server_url = "{url}"
        realm = "tinh"
        client_id = "syncbot"
        client_secret_file = "ldap-password"
        """
        )
        + extra
    )


@pytest.mark.parametrize(
    ("url", "extra", "key"),
    [
        ("http://sso.tinhmau.gov.vn", "", "server_url"),
        ("https://sso.tinhmau.gov.vn", "tls_verify = false\n", "tls_verify"),
    ],
)
def test_insecure_keycloak_is_refused_without_the_flag(
    tmp_path: Path, url: str, extra: str, key: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(write_config(tmp_path, keycloak_table(url, extra)))
    assert refused.value.key == f"targets.sso.{key}"
    allowed = load_config(
        write_config(tmp_path, keycloak_table(url, extra + "allow_insecure = true\n"))
    ).targets["sso"]
    assert isinstance(allowed, KeycloakSettings) and allowed.insecure_reasons[0][0] == key


def test_keycloak_on_loopback_over_http_needs_no_flag(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, keycloak_table("http://127.0.0.1:8080")))
    sso = config.targets["sso"]
    assert isinstance(sso, KeycloakSettings) and sso.insecure_reasons == []


def test_the_warning_names_target_setting_and_reason() -> None:
    with capture_logs() as logs:
        warn_insecure("sso", [("tls_verify", "tls_verify = false: not checked")])
    assert logs == [
        {
            "event": "insecure_connection",
            "target": "sso",
            "setting": "tls_verify",
            "why": "tls_verify = false: not checked",
            "log_level": "warning",
        }
    ]
