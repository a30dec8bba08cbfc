"""The password-policy examples shipped in mappings/policies/ load, and say what the letters say."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from syncbot.config import Config, load_config
from syncbot.duty_settings import CharClass, Response

EXAMPLES = Path(__file__).resolve().parent.parent / "mappings" / "policies"

BASE = """
[roster]
path = "nhan-su.csv"

[targets.ldap]
url = "ldap://127.0.0.1:3890"
bind_dn = "cn=syncbot,ou=system,dc=example"
bind_password_env = "SYNCBOT_TEST_PW"
users_base = "ou=people,dc=example"
groups_base = "ou=groups,dc=example"
password_policy_dn = "cn=default,ou=policies,dc=example"
"""


def load_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> Config:
    monkeypatch.setenv("SYNCBOT_TEST_PW", "unused")
    path = tmp_path / "syncbot.toml"
    path.write_text(BASE + (EXAMPLES / name).read_text("utf-8"), encoding="utf-8")
    return load_config(path)


def test_every_example_is_checked_here() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.toml")) == [
        "dong-da-2024.toml",
        "long-an-2024.toml",
        "ninh-thuan-2021.toml",
    ]


def test_long_an_eight_characters_four_classes_six_months_and_the_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = load_example(tmp_path, monkeypatch, "long-an-2024.toml").duties.password
    assert policy.min_length == 8
    assert policy.classes == set(CharClass)
    assert policy.max_age_days == 180
    assert policy.deadline == date(2024, 10, 26)
    assert policy.never_changed is Response.REQUIRE_CHANGE


def test_ninh_thuan_nine_characters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = load_example(tmp_path, monkeypatch, "ninh-thuan-2021.toml").duties.password
    assert policy.min_length == 9
    assert {CharClass.DIGIT, CharClass.SPECIAL} <= policy.classes
    assert policy.max_age_days is None


def test_dong_da_twelve_characters_three_months_and_a_year_of_disuse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    duties = load_example(tmp_path, monkeypatch, "dong-da-2024.toml").duties
    assert duties.password.min_length == 12
    assert duties.password.max_age_days == 90
    assert duties.dormancy is not None
    assert (duties.dormancy.days, duties.dormancy.disable_after_days) == (365, 30)
    assert duties.failed_sign_ins is not None and duties.failed_sign_ins.threshold == 5
