"""The duties' config sections: [password_policy], [dormancy], [orphans], [failed_sign_ins].

Each is off until written; every mistake names its key; the circulars' own examples load
as the values they state.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from syncbot.config import load_config
from syncbot.duty_settings import (
    CharClass,
    Dormancy,
    Duties,
    FailedSignIns,
    Orphans,
    PasswordPolicy,
    Response,
)
from syncbot.errors import ConfigError
from syncbot.model import Status

BASE = """
[roster]
path = "nhan-su.csv"

[targets.ldap]
url = "ldap://127.0.0.1:3890"
bind_dn = "cn=syncbot,ou=system,dc=example"
bind_password_file = "pw"
users_base = "ou=people,dc=example"
groups_base = "ou=groups,dc=example"
password_policy_dn = "cn=default,ou=policies,dc=example"
"""


def duties_of(tmp_path: Path, extra: str) -> Duties:
    (tmp_path / "pw").write_text("x", encoding="utf-8")
    path = tmp_path / "syncbot.toml"
    path.write_text(BASE + extra, encoding="utf-8")
    return load_config(path).duties


def test_no_sections_means_no_duties(tmp_path: Path) -> None:
    duties = duties_of(tmp_path, "")
    assert duties == Duties()
    assert duties.dormancy is None and duties.failed_sign_ins is None
    assert not duties.password.enforces_settings and not duties.password.watches_accounts
    assert duties.orphans == Orphans(disable=False, grace_days=30)


def test_every_key_of_every_section(tmp_path: Path) -> None:
    duties = duties_of(
        tmp_path,
        """
[password_policy]
min_length = 12
require = ["upper", "lower", "digit", "special"]
not_username = true
history = 5
max_age_days = 90
never_changed = "require_change"
expired = "report"
deadline = 2024-10-26
issued_within_minutes = 30

[dormancy]
days = 365
recorded_since = 2025-01-01
disable_after_days = 30
exempt_statuses = ["on_leave", "active"]

[orphans]
disable = true
grace_days = 0

[failed_sign_ins]
threshold = 10
days = 3
""",
    )
    assert duties.password == PasswordPolicy(
        min_length=12,
        classes=frozenset(CharClass),
        not_username=True,
        history=5,
        max_age_days=90,
        never_changed=Response.REQUIRE_CHANGE,
        expired=Response.REPORT,
        deadline=date(2024, 10, 26),
        issued_within_minutes=30,
    )
    assert duties.dormancy == Dormancy(
        days=365,
        recorded_since=date(2025, 1, 1),
        disable_after_days=30,
        exempt_statuses=frozenset({Status.ON_LEAVE, Status.ACTIVE}),
    )
    assert duties.orphans == Orphans(disable=True, grace_days=0)
    assert duties.failed_sign_ins == FailedSignIns(threshold=10, days=3)


def test_section_defaults(tmp_path: Path) -> None:
    duties = duties_of(
        tmp_path, "[dormancy]\ndays = 180\nrecorded_since = 2024-01-01\n[failed_sign_ins]\n"
    )
    assert duties.dormancy == Dormancy(days=180, recorded_since=date(2024, 1, 1))
    assert duties.dormancy.disable_after_days is None  # report only unless asked
    assert duties.dormancy.exempt_statuses == frozenset({Status.ON_LEAVE})
    assert duties.failed_sign_ins == FailedSignIns(threshold=5, days=7)
    nobody = duties_of(tmp_path, "[dormancy]\ndays = 1\nrecorded_since = 2024-01-01\n"
                       "exempt_statuses = []\n").dormancy  # fmt: skip
    assert nobody is not None and nobody.exempt_statuses == frozenset()


# The provinces' letters: 8 characters of four kinds changed every 6 months; 9 characters;
# 12 characters changed every 3 months.
CIRCULARS = [
    (
        'min_length = 8\nrequire = ["upper", "lower", "digit", "special"]\nmax_age_days = 180\n',
        PasswordPolicy(min_length=8, classes=frozenset(CharClass), max_age_days=180),
    ),
    ("min_length = 9\n", PasswordPolicy(min_length=9)),
    ("min_length = 12\nmax_age_days = 90\n", PasswordPolicy(min_length=12, max_age_days=90)),
]


@pytest.mark.parametrize(("section", "policy"), CIRCULARS)
def test_the_circulars_examples(tmp_path: Path, section: str, policy: PasswordPolicy) -> None:
    duties = duties_of(tmp_path, "[password_policy]\n" + section)
    assert duties.password == policy
    assert duties.password.enforces_settings and not duties.password.watches_accounts


@pytest.mark.parametrize(
    ("extra", "key", "words"),
    [
        ("[password_policy]\nmin_length = 0\n", "password_policy.min_length", "positive"),
        ('[password_policy]\nmin_length = "12"\n', "password_policy.min_length", "must be a int"),
        ('[password_policy]\nrequire = ["capital"]\n', "password_policy.require", "character"),
        ("[password_policy]\nrequire = [1]\n", "password_policy.require", "non-empty strings"),
        ('[password_policy]\nnot_username = "yes"\n', "password_policy.not_username", "bool"),
        ("[password_policy]\nhistory = -1\n", "password_policy.history", "positive"),
        ("[password_policy]\nmax_age_days = 0\n", "password_policy.max_age_days", "positive"),
        ('[password_policy]\nnever_changed = "lock"\n', "password_policy.never_changed", "one of"),
        ('[password_policy]\nexpired = "report"\n', "password_policy.expired", "max_age_days"),
        ("[password_policy]\ndeadline = 2024-10-26\n", "password_policy.deadline", "needs"),
        ('[password_policy]\ndeadline = "26/10/2024"\n', "password_policy.deadline", "date"),
        (
            "[password_policy]\nissued_within_minutes = 0\n",
            "password_policy.issued_within_minutes",
            "positive",
        ),
        ("[password_policy]\nmin_lenght = 8\n", "password_policy.min_lenght", "unknown setting"),
        ("[dormancy]\nrecorded_since = 2025-01-01\n", "dormancy.days", "is required"),
        ("[dormancy]\ndays = 0\nrecorded_since = 2025-01-01\n", "dormancy.days", "positive"),
        ("[dormancy]\ndays = 365\n", "dormancy.recorded_since", "is required"),
        (
            '[dormancy]\ndays = 365\nrecorded_since = "2025"\n',
            "dormancy.recorded_since",
            "date",
        ),
        (
            "[dormancy]\ndays = 365\nrecorded_since = 2025-01-01\ndisable_after_days = 0\n",
            "dormancy.disable_after_days",
            "positive",
        ),
        (
            '[dormancy]\ndays = 365\nrecorded_since = 2025-01-01\nexempt_statuses = ["nghi"]\n',
            "dormancy.exempt_statuses",
            "on_leave",
        ),
        (
            "[dormancy]\ndays = 365\nrecorded_since = 2025-01-01\nexempt = []\n",
            "dormancy.exempt",
            "unknown setting",
        ),
        ('[orphans]\ndisable = "yes"\n', "orphans.disable", "bool"),
        ("[orphans]\ngrace_days = -1\n", "orphans.grace_days", "negative"),
        ("[orphans]\ngrace_days = true\n", "orphans.grace_days", "int"),
        ("[orphans]\ngrace = 3\n", "orphans.grace", "unknown setting"),
        ("[failed_sign_ins]\nthreshold = 0\n", "failed_sign_ins.threshold", "positive"),
        ("[failed_sign_ins]\ndays = -7\n", "failed_sign_ins.days", "positive"),
        ("[failed_sign_ins]\nwindow = 7\n", "failed_sign_ins.window", "unknown setting"),
    ],
)
def test_duty_mistakes_name_the_key(tmp_path: Path, extra: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        duties_of(tmp_path, extra)
    assert err.value.key == key
    assert words in str(err.value)
    assert str(tmp_path / "syncbot.toml") in str(err.value)


def test_a_password_policy_needs_the_ldap_policy_entry(tmp_path: Path) -> None:
    base = BASE.replace('password_policy_dn = "cn=default,ou=policies,dc=example"\n', "")
    (tmp_path / "pw").write_text("x", encoding="utf-8")
    path = tmp_path / "syncbot.toml"
    path.write_text(base + "[password_policy]\nmin_length = 12\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.key == "targets.ldap.password_policy_dn"
    path.write_text(base + "[dormancy]\ndays = 90\nrecorded_since = 2025-01-01\n", "utf-8")
    assert load_config(path).duties.dormancy is not None  # dormancy alone needs no policy entry
