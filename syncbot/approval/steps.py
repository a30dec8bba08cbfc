"""A saved plan's steps: written as plain JSON, read back as the very `Action`s planned, and
each checked, before it is applied, against the state of its account it was computed from.

A person approves steps, not a roster: "lock uid=lanvt, which is open", "take lanh-dao from
uid=hattt, who holds it". Hours later, the account may have been locked, moved or given
the role by hand. Applying the step anyway would act on a state nobody reviewed, and
planning afresh would apply steps nobody reviewed, so a step whose precondition no longer
holds is skipped and said so (`judge`), never replaced.

A precondition tolerates what the plan's own earlier steps do to the same account (a
lock, then the sign-out that follows it): an approved plan applied halfway (killed) is
finished by applying it again, each step already in effect skipped as done.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from syncbot.model import (
    Account,
    Action,
    ActionKind,
    Duty,
    Reason,
    Snapshot,
    evidence_of,
)

#: Steps whose effect a snapshot does not show: done or not, they are sent again.
UNSEEN = frozenset({ActionKind.SIGN_OUT, ActionKind.REQUIRE_PASSWORD_CHANGE})


def action_record(action: Action) -> dict[str, Any]:
    """The step as `Action.as_dict` shows it, plus the settings a CONFIGURE step needs back."""
    return {
        **action.as_dict(),
        "settings": [[name, now, wanted] for name, now, wanted in action.settings],
    }


def action_of(record: Mapping[str, Any]) -> Action:
    """The `Action` `action_record` wrote; KeyError, TypeError or ValueError if it is not one."""
    reason = record["reason"]
    return Action(
        target=str(record["target"]),
        kind=ActionKind(record["action"]),
        account=str(record["account"]),
        username=str(record["username"]),
        employee_id=record["employee_id"],
        reason=Reason(str(reason["vi"]), str(reason["en"])),
        evidence=evidence_of(record["evidence"]),
        add=tuple(record["add"]),
        remove=tuple(record["remove"]),
        role=record["role"],
        offboarding=bool(record["offboarding"]),
        duty=Duty(record["duty"]),
        settings=tuple((str(n), now, wanted) for n, now, wanted in record["settings"]),
    )


@dataclass(frozen=True, slots=True)
class Precondition:
    """What a step's target looked like when it was planned, as far as the step depends on it.

    For an account step: the account (by its key: a DN, a user id) existed, was enabled or
    not, and held or lacked the groups or roles the step changes. For a CONFIGURE step: the
    value each setting had.
    """

    target: str
    account: str
    enabled: bool | None = None  # None: a CONFIGURE step
    held: tuple[str, ...] = ()
    lacked: tuple[str, ...] = ()
    settings: tuple[tuple[str, str | None], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "account": self.account,
            "enabled": self.enabled,
            "held": list(self.held),
            "lacked": list(self.lacked),
            "settings": [[name, value] for name, value in self.settings],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Precondition:
        return cls(
            target=str(data["target"]),
            account=str(data["account"]),
            enabled=data["enabled"],
            held=tuple(data["held"]),
            lacked=tuple(data["lacked"]),
            settings=tuple((str(name), value) for name, value in data["settings"]),
        )

    def lines(self) -> list[str]:
        """How `plans show` says it, one fact a line."""
        if self.enabled is None:
            return [f"{name} = {'∅' if value is None else value}" for name, value in self.settings]
        state = "đang mở / enabled" if self.enabled else "đang khóa / disabled"
        facts = [f"{self.account}: {state}"]
        facts += [f"có / holds {key}" for key in self.held]
        facts += [f"không có / lacks {key}" for key in self.lacked]
        return facts


def precondition_of(action: Action, accounts: Mapping[tuple[str, str], Account]) -> Precondition:
    """The state `action` was computed from, read from the snapshot it was planned with."""
    if action.kind is ActionKind.CONFIGURE:
        now = tuple((name, value) for name, value, _ in action.settings)
        return Precondition(action.target, action.account, settings=now)
    account = accounts[(action.target, action.account)]
    changed = sorted({*action.add, *action.remove})
    held = tuple(key for key in changed if key in account.entitlements)
    lacked = tuple(key for key in changed if key not in account.entitlements)
    return Precondition(action.target, action.account, account.enabled, held, lacked)


def accounts_by_key(snapshots: Iterable[Snapshot]) -> dict[tuple[str, str], Account]:
    return {(s.target, a.key): a for s in snapshots for a in s.accounts}


@dataclass(slots=True)
class _Effects:
    """What a plan's own steps set on one account: its `enabled` flag and its groups."""

    enabled: set[bool] = field(default_factory=set)
    groups: dict[str, set[bool]] = field(default_factory=dict)


def _effects(actions: Sequence[Action]) -> dict[tuple[str, str], _Effects]:
    effects: dict[tuple[str, str], _Effects] = {}
    for action in actions:
        mine = effects.setdefault((action.target, action.account), _Effects())
        if action.kind in (ActionKind.DISABLE, ActionKind.ENABLE):
            mine.enabled.add(action.kind is ActionKind.ENABLE)
        for key in action.add:
            mine.groups.setdefault(key, set()).add(True)
        for key in action.remove:
            mine.groups.setdefault(key, set()).add(False)
    return effects


#: Why a step is not applied: it is done already (a killed apply, a hand), or its account
#: is no longer as the person who approved it saw it.
ALREADY_DONE = Reason("đã có hiệu lực", "already in effect")


def _broken(vi: str, en: str) -> Reason:
    return Reason(f"điều kiện không còn đúng: {vi}", f"precondition no longer holds: {en}")


@dataclass(frozen=True, slots=True)
class Skipped:
    """A step of an approved plan that was not applied, and why."""

    action: Action
    reason: Reason


def judge(
    steps: Sequence[tuple[Action, Precondition]],
    snapshots: Mapping[str, Snapshot],
) -> tuple[list[Action], list[Skipped]]:
    """The steps to apply now, in plan order, and those skipped with their reasons."""
    accounts = accounts_by_key(snapshots.values())
    effects = _effects([action for action, _ in steps])
    apply: list[Action] = []
    skipped: list[Skipped] = []
    for action, pre in steps:
        snapshot = snapshots.get(action.target)
        if snapshot is None:
            why: Reason | None = _broken(
                f"không còn hệ thống {action.target}", f"no target {action.target} any more"
            )
        elif action.kind is ActionKind.CONFIGURE:
            why = _judge_settings(action, snapshot.settings)
        else:
            account = accounts.get((action.target, action.account))
            mine = effects.get((action.target, action.account), _Effects())
            why = _judge_account(action, pre, account, mine)
        if why is None:
            apply.append(action)
        else:
            skipped.append(Skipped(action, why))
    return apply, skipped


def _judge_settings(action: Action, now: Mapping[str, str] | None) -> Reason | None:
    if now is None:
        return _broken("không đọc được cấu hình", "the settings could not be read")
    if all(now.get(name) == wanted for name, _, wanted in action.settings):
        return ALREADY_DONE
    for name, before, wanted in action.settings:
        value = now.get(name)
        if value not in (before, wanted):
            return _broken(f"{name} đã bị đổi thành {value}", f"{name} is now {value}")
    return None


def _judge_account(
    action: Action, pre: Precondition, account: Account | None, mine: _Effects
) -> Reason | None:
    if account is None:
        return _broken(f"tài khoản {action.account} không còn", f"account {action.account} is gone")
    if _in_effect(action, account):
        return ALREADY_DONE
    enabled = account.enabled
    if pre.enabled is not None and enabled != pre.enabled and enabled not in mine.enabled:
        state = ("đang mở", "enabled") if enabled else ("đã bị khóa", "disabled")
        return _broken(f"tài khoản {state[0]}", f"the account is {state[1]} now")
    for key, was in [*((k, True) for k in pre.held), *((k, False) for k in pre.lacked)]:
        has = key in account.entitlements
        if has != was and has not in mine.groups.get(key, set()):
            return _broken(
                f"{'đã được cấp' if has else 'đã bị bỏ'} {key}",
                f"{'now holds' if has else 'no longer holds'} {key}",
            )
    return None


def _in_effect(action: Action, account: Account) -> bool:
    """Whether the step's own change shows in the account; never for unseen kinds."""
    kind = action.kind
    if kind in UNSEEN:
        return False
    if kind is ActionKind.DISABLE:
        return not account.enabled
    if kind is ActionKind.ENABLE:
        return account.enabled
    held = account.entitlements
    return set(action.add) <= held and not set(action.remove) & held
