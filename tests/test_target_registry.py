"""The registry of target kinds: `type` picks the parser, and opening a target is its job.

Reading a config must not load the directory libraries: `syncbot status`, `audit verify`
and `--help` read it and never talk to a directory.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from syncbot.config import load_config
from syncbot.errors import ConfigError
from syncbot.targets.keycloak import KeycloakSettings, KeycloakTarget
from syncbot.targets.ldap import FLAVOURS, LdapSettings, LdapTarget
from syncbot.targets.ldap.settings import FLAVOUR_NAMES
from syncbot.targets.registry import KINDS, open_target

CONFIG = """
[roster]
path = "nhan-su.csv"

[targets.directory]
url = "ldap://127.0.0.1:3890"
bind_dn = "cn=syncbot,ou=system,dc=example"
bind_password_env = "SYNCBOT_TEST_SECRET"
users_base = "ou=people,dc=example"
groups_base = "ou=groups,dc=example"

[targets.sso]
type = "keycloak"
server_url = "https://sso.example/"
realm = "staff"
client_id = "syncbot"
client_secret_env = "SYNCBOT_TEST_SECRET"
"""


@pytest.fixture
def config_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SYNCBOT_TEST_SECRET", "not-a-real-secret")
    path = tmp_path / "syncbot.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def test_each_kind_reads_its_own_table(config_path: Path) -> None:
    targets = load_config(config_path).targets
    assert isinstance(targets["directory"], LdapSettings)  # ldap is the default type
    assert isinstance(targets["sso"], KeycloakSettings)
    assert targets["sso"].server_url == "https://sso.example"
    assert list(KINDS) == [LdapSettings.kind, KeycloakSettings.kind] == ["ldap", "keycloak"]


def test_an_unknown_type_names_the_kinds(config_path: Path) -> None:
    config_path.write_text(CONFIG.replace('"keycloak"', '"okta"'), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(config_path)
    assert caught.value.key == "targets.sso.type"
    assert str(caught.value).endswith("must be one of ldap, keycloak, got 'okta'")


def test_opening_a_target_asks_its_kind(config_path: Path) -> None:
    targets = load_config(config_path).targets
    directory, sso = open_target(targets["directory"]), open_target(targets["sso"])
    try:
        assert isinstance(directory, LdapTarget)
        assert isinstance(sso, KeycloakTarget)
        assert (directory.name, sso.name) == ("directory", "sso")
    finally:
        directory.close()
        sso.close()


def test_the_settings_know_every_flavour_the_target_knows() -> None:
    """The names live in settings.py so that reading a config does not load ldap3."""
    assert tuple(FLAVOURS) == FLAVOUR_NAMES


def test_reading_a_config_loads_no_directory_library(config_path: Path) -> None:
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from syncbot.config import load_config\n"
        f"load_config(Path({str(config_path)!r}))\n"
        "heavy = ('ldap', 'ldap3', 'keycloak', 'requests', 'openpyxl')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
