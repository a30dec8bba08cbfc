"""The quick constructors of the model's most numerous types behave as dataclasses do."""

from __future__ import annotations

import copy
import pickle
from dataclasses import FrozenInstanceError, dataclass, field, replace
from datetime import UTC, date, datetime

import pytest

from syncbot.model import Account, RosterRow, Status, _quick_init


def account(**changes: object) -> Account:
    values: dict[str, object] = {
        "target": "ldap",
        "key": "uid=a,ou=people,dc=x",
        "username": "a",
        "employee_id": "E1",
        "email": "a@x.vn",
        "enabled": True,
    }
    values.update(changes)
    return Account(**values)  # type: ignore[arg-type]


def test_defaults_keywords_and_positions_fill_every_field() -> None:
    plain = account()
    assert plain.entitlements == frozenset() and plain.groups == frozenset()
    assert plain.display_name is None and plain.federated is False
    assert (plain.created, plain.last_sign_in, plain.failed_sign_ins) == (None, None, 0)
    moment = datetime(2026, 1, 2, tzinfo=UTC)
    full = Account("k", "key", "u", None, None, False, frozenset({"g"}), "Tên", frozenset({"g"}),
                   True, moment, moment, True, moment, 3)  # fmt: skip
    assert full.target == "k" and full.failed_sign_ins == 3 and full.must_change_password
    with pytest.raises(TypeError):
        Account(target="k")  # type: ignore[call-arg]


def test_instances_stay_frozen_hashable_and_comparable() -> None:
    one, same = account(), account()
    assert one == same and hash(one) == hash(same) and one is not same
    assert one != account(enabled=False)
    with pytest.raises(FrozenInstanceError):
        one.enabled = False  # type: ignore[misc]
    assert replace(one, enabled=False).enabled is False
    assert pickle.loads(pickle.dumps(one)) == one  # noqa: S301 - our own bytes
    assert copy.deepcopy(one) == one
    assert repr(one).startswith("Account(target='ldap', key='uid=a,ou=people,dc=x'")


def test_roster_rows_too() -> None:
    row = RosterRow(3, "E1", "Nguyễn Văn A", None, "Văn phòng", "", Status.ACTIVE,
                    "Đang công tác", date(2026, 1, 1))  # fmt: skip
    assert (row.username, row.role) == (None, None)
    assert replace(row, role="Lãnh đạo").role == "Lãnh đạo"
    with pytest.raises(FrozenInstanceError):
        row.row = 4  # type: ignore[misc]


def test_fields_with_factories_are_refused_rather_than_shared() -> None:
    @dataclass(frozen=True, slots=True)
    class WithFactory:
        items: list[str] = field(default_factory=list)

    with pytest.raises(TypeError, match="only plain fields"):
        _quick_init(WithFactory)
