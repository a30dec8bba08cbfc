"""Properties of the planner over generated rosters and directories (hypothesis).

Whatever HR and the directory say: a perfect apply of the plan leaves nothing to do,
protected accounts never appear, every action has a reason and evidence, and a person is
never locked in one step and granted a role in another.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from plan_builders import (
    ALL_MANAGED,
    ROLE_GROUPS,
    TODAY,
    UNIT_GROUPS,
    account,
    applied,
    ledger_entry,
    roster,
    row,
    shipped,
    target_state,
)

from syncbot.matching import Fallback
from syncbot.model import ActionKind
from syncbot.planner import plan
from syncbot.protection import Protection

POSITIONS = ["Chuyên viên", "Văn thư", "Phó Giám đốc", "Quản trị hệ thống", "Lái xe", ""]
UNITS = ["Văn phòng", "Thanh tra", "Phòng Công nghệ thông tin", "Đội xe"]
STATUSES = ["Đang công tác", "Nghỉ việc", "Nghỉ hưu", "Chuyển công tác"]
PROTECTION = Protection.build(["admin"], ["svc-*"], frozenset())


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list, list, dict]:  # type: ignore[type-arg]
    """A roster of up to 12 people and a directory that knows some of them, drifted."""
    n = draw(st.integers(min_value=0, max_value=12))
    rows, accounts, ledger = [], [], {}
    for i in range(1, n + 1):
        status = draw(st.sampled_from(STATUSES))
        effective = TODAY + timedelta(days=draw(st.integers(-60, 60)))
        rows.append(
            row(
                i + 1,
                f"NV{i:03d}",
                position=draw(st.sampled_from(POSITIONS)),
                unit=draw(st.sampled_from(UNITS)),
                status=status,
                effective=effective if status != "Đang công tác" or draw(st.booleans()) else None,
                email=f"u{i}@t.vn",
            )
        )
        copies = draw(st.integers(min_value=0, max_value=2))  # 2: an ambiguous match
        for c in range(copies):
            username = f"u{i}" if c == 0 else f"u{i}b"
            enabled = draw(st.booleans())
            holds = draw(st.sets(st.sampled_from(sorted(ROLE_GROUPS | UNIT_GROUPS)), max_size=3))
            accounts.append(account(username, f"NV{i:03d}", email=f"u{i}@t.vn",
                                    enabled=enabled, holds=holds))  # fmt: skip
            if not enabled and draw(st.booleans()):
                key, entry = ledger_entry(username, f"NV{i:03d}", removed=sorted(holds))
                ledger[key] = entry
    for name in draw(st.sets(st.sampled_from(["admin", "svc-qoffice", "tuanpq"]))):
        held = draw(st.sets(st.sampled_from(sorted(ROLE_GROUPS)), max_size=2))
        accounts.append(account(name, None, holds=held))
    return rows, accounts, ledger


def run(rows: list, accounts: list, ledger: dict):  # type: ignore[no-untyped-def]
    state = target_state(accounts, entitlements=ALL_MANAGED, protection=PROTECTION)
    return plan(roster(*rows), shipped(), [state], ledger, TODAY, Fallback.EMAIL)


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(scenario())
def test_a_perfect_apply_leaves_nothing_to_do(case: tuple[list, list, dict]) -> None:
    rows, accounts, ledger = case
    first = run(rows, accounts, ledger)
    after = applied(accounts, first.actions)
    # What the executor does to the ledger: locks recorded, re-enables cleared.
    for action in first.actions:
        key = (action.target, action.account)
        if action.kind is ActionKind.DISABLE:
            ledger[key] = ledger_entry(action.username, action.employee_id)[1]
        elif action.kind is ActionKind.ENABLE:
            ledger.pop(key, None)
    second = run(rows, list(after), ledger)
    assert second.actions == ()


@SETTINGS
@given(scenario())
def test_protected_accounts_never_appear(case: tuple[list, list, dict]) -> None:
    result = run(*case)
    shown = {a.username for a in result.actions} | {f.account or "" for f in result.findings}
    assert not {"admin", "svc-qoffice"} & shown
    assert not any("admin" in (f.account or "") or "svc-" in (f.account or "")
                   for f in result.findings)  # fmt: skip


@SETTINGS
@given(scenario())
def test_every_action_has_a_reason_and_evidence(case: tuple[list, list, dict]) -> None:
    for action in run(*case).actions:
        assert action.reason.vi.strip() and action.reason.en.strip()
        assert action.evidence is not None and action.evidence.row >= 2
        assert action.employee_id == f"NV{action.evidence.row - 1:03d}"


@SETTINGS
@given(scenario())
def test_no_one_is_locked_and_granted_at_once(case: tuple[list, list, dict]) -> None:
    by_account: dict[str, set[ActionKind]] = {}
    for action in run(*case).actions:
        by_account.setdefault(action.account, set()).add(action.kind)
    for kinds in by_account.values():
        assert not ({ActionKind.DISABLE} <= kinds and kinds & {ActionKind.GRANT, ActionKind.ENABLE})


@SETTINGS
@given(scenario())
def test_ambiguous_people_are_left_alone(case: tuple[list, list, dict]) -> None:
    rows, accounts, ledger = case
    twins = {a.employee_id for a in accounts if a.username.endswith("b")}
    touched = {a.employee_id for a in run(rows, accounts, ledger).actions}
    assert not twins & touched
