"""The saved plan: one canonical JSON document, named by its own sha256.

Canonical means one byte string for one content (sorted keys, no whitespace, UTF-8, as
the audit log's records: `syncbot.audit.record.canonical_json`), so the id a person
approves is the hash of exactly the bytes the applier reads, and a file that was edited
no longer has the name it is filed under (`SavedPlan.parse` refuses it).

It holds no secret: steps, their evidence (file names, row numbers, hashes) and the state
of the accounts they were computed from. The audit log's rule that no key may look like
a secret is checked here too, so a future field cannot bring one in unnoticed.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from syncbot.approval.steps import (
    Precondition,
    accounts_by_key,
    action_of,
    action_record,
    precondition_of,
)
from syncbot.audit.record import canonical_json, has_secret_key, refused_secret_keys
from syncbot.model import Action, Plan, Snapshot

#: Bumped when the format changes in a way an older syncbot could not read.
FORMAT = 1

#: How many hex digits of the id people see and type.
SHORT = 12


def short_id(plan_id: str) -> str:
    return plan_id[:SHORT]


def os_user(uid: int | None = None) -> str:
    """The operating-system user's name (or `uid N` when it has none)."""
    uid = os.geteuid() if uid is None else uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


@dataclass(frozen=True, slots=True)
class Requester:
    """Who had the plan computed: the audit's actor, what started it, and the OS user."""

    actor: str  # "syncbot@host via syncbot run"
    trigger: str  # "syncbot apply", "syncbot run: file", "syncbot plan --out"
    uid: int
    user: str

    @classmethod
    def here(cls, actor: str, trigger: str) -> Requester:
        uid = os.geteuid()
        return cls(actor, trigger, uid, os_user(uid))


@dataclass(frozen=True, slots=True)
class SavedPlan:
    """A plan as it was refused (or written by `plan --out`), with what it was computed from."""

    created: datetime
    requester: Requester
    plan: Plan  # its steps in order; findings are not kept
    preconditions: tuple[Precondition, ...]  # one per step, same order
    thresholds: tuple[str, ...]  # each crossed, with its numbers
    scope: str  # whom the refused run judged: "full", "push", "export", "list"

    @classmethod
    def of(
        cls,
        plan: Plan,
        snapshots: Mapping[str, Snapshot],
        thresholds: Sequence[str],
        requester: Requester,
        scope: str,
        created: datetime | None = None,
    ) -> SavedPlan:
        accounts = accounts_by_key(snapshots.values())
        return cls(
            created=(created or datetime.now(UTC)).replace(microsecond=0),
            requester=requester,
            plan=plan,
            preconditions=tuple(precondition_of(a, accounts) for a in plan.actions),
            thresholds=tuple(thresholds),
            scope=scope,
        )

    @property
    def steps(self) -> list[tuple[Action, Precondition]]:
        return list(zip(self.plan.actions, self.preconditions, strict=True))

    def as_dict(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "format": FORMAT,
            "created": self.created.isoformat(),
            "requested_by": {
                "actor": self.requester.actor,
                "trigger": self.requester.trigger,
                "uid": self.requester.uid,
                "user": self.requester.user,
            },
            "roster": {
                "path": plan.roster_path,
                "sha256": plan.roster_sha256,
                "rows": plan.roster_rows,
            },
            "today": plan.today.isoformat(),
            "matched": dict(plan.matched),
            "matched_people": plan.matched_people,
            "scope": self.scope,
            "thresholds": list(self.thresholds),
            "steps": [
                {"step": action_record(action), "precondition": pre.as_dict()}
                for action, pre in self.steps
            ],
        }

    def canonical(self) -> bytes:
        """The bytes saved and hashed: the same for the same plan, whoever writes them."""
        data = self.as_dict()
        if has_secret_key([step["precondition"] for step in data["steps"]]):
            raise refused_secret_keys(data)
        return canonical_json(data).encode("utf-8")

    @property
    def id(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()

    @classmethod
    def parse(cls, data: bytes, plan_id: str | None = None) -> SavedPlan:
        """Read saved bytes; ValueError when they are not a saved plan or not `plan_id`'s."""
        if plan_id is not None and hashlib.sha256(data).hexdigest() != plan_id:
            raise ValueError("its content does not match its id (edited?)")
        try:
            raw = json.loads(data.decode("utf-8"))
            if raw.get("format") != FORMAT:
                raise ValueError(f"format {raw.get('format')!r}, this syncbot reads {FORMAT}")
            roster, who = raw["roster"], raw["requested_by"]
            actions = tuple(action_of(step["step"]) for step in raw["steps"])
            saved = cls(
                created=datetime.fromisoformat(raw["created"]),
                requester=Requester(who["actor"], who["trigger"], int(who["uid"]), who["user"]),
                plan=Plan(
                    today=date.fromisoformat(raw["today"]),
                    roster_path=roster["path"],
                    roster_sha256=roster["sha256"],
                    roster_rows=int(roster["rows"]),
                    actions=actions,
                    findings=(),
                    matched={str(k): int(v) for k, v in raw["matched"].items()},
                    matched_people=int(raw["matched_people"]),
                ),
                preconditions=tuple(
                    Precondition.from_dict(s["precondition"]) for s in raw["steps"]
                ),
                thresholds=tuple(str(t) for t in raw["thresholds"]),
                scope=str(raw["scope"]),
            )
        except (KeyError, TypeError, AttributeError, UnicodeDecodeError) as error:
            raise ValueError(f"not a saved plan ({type(error).__name__}: {error})") from None
        if saved.canonical() != data:
            raise ValueError("not in canonical form (edited?)")
        return saved
