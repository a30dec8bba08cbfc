"""The whole contract between syncbot and a directory, in the manner of an octoDNS provider.

A target reads (`read`, one request in, one `Snapshot` out) and writes (`apply`, a batch of
steps and the snapshot they were planned from in, one answer per step out). It keeps no
state between the two: what `apply` needs to find an account or a group again travels in
`Snapshot.locator`, so a plan is applied against the state it was computed from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from syncbot.duty_settings import OBSERVE_NOTHING, Duties, Observe, WantedSettings
from syncbot.lookup import Lookup
from syncbot.model import Action, Snapshot
from syncbot.roster_strings import NO_ROSTER_STRINGS, RosterStrings

#: Called with (done, total) while a target reads or applies; total may be None.
Progress = Callable[[int, int | None], None]


def no_progress(done: int, total: int | None) -> None:
    """A progress callback that shows nothing (tests, non-terminals)."""


class ApplyError(Exception):
    """One step failed in the target; the executor records it and goes on with the others."""


class AnswerLost(ApplyError):
    """The change was sent, but the connection died before the answer came: it may have
    been made. The next run looks at the directory and records it if it was."""


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """What one run asks a target to read.

    `managed` are the entitlement keys whose members matter; `observe` what the duties
    need beyond accounts and groups (sign-ins, password dates, settings); values equal to
    one of `known`'s are kept as the roster's own strings (`RosterStrings.shared`), so
    the snapshot and the roster share them in memory.

    `lookup`, when set, makes it a targeted read: only the accounts `lookup.wants`, each
    exactly as a full read would give it (the same entitlements, groups, locks and
    observed values), `entitlements` as a full read gives them, and no settings.
    """

    managed: frozenset[str]
    observe: Observe = OBSERVE_NOTHING
    known: RosterStrings = NO_ROSTER_STRINGS
    progress: Progress = field(default=no_progress, compare=False)
    lookup: Lookup | None = None


class Target(Protocol):
    """A directory syncbot reads whole and changes a batch of steps at a time."""

    name: str

    def entitlement_key(self, ref: str) -> str:
        """Turn a mapping reference (a group name or DN, a role) into the key snapshots use."""
        ...

    def read(self, request: ReadRequest) -> Snapshot:
        """Read every managed account and the membership of every managed entitlement.

        Must be a handful of bulk reads, never a query per person - except where
        `request.observe` asks for something the target only gives per person, and then
        only for the accounts that need it. With `request.lookup`, only the accounts it
        wants (`syncbot.lookup.narrowed` of the full read): searches by their values in
        batches, and their memberships, never the whole directory. Raises `TargetError`
        when the target cannot be read.
        """
        ...

    def apply(self, steps: Sequence[Action], snapshot: Snapshot) -> list[ApplyError | None]:
        """Carry out `steps` (at most one per account) planned from `snapshot`, which this
        target read; answer each with None (done, or already so) or its error, one step's
        failure never another's. Repeating a step is harmless.
        """
        ...

    def wanted_settings(self, duties: Duties) -> WantedSettings:
        """The target-wide settings (password policy, event storage) the duties call for,
        in the target's vocabulary; compared with `Snapshot.settings` by the planner."""
        ...

    def owned_for_federated(self, managed: frozenset[str]) -> frozenset[str]:
        """Of `managed`, what this target changes itself for accounts federated from LDAP."""
        ...

    def describe(self) -> list[str]:
        """Connect and say what was found (for `syncbot check-config`); raise TargetError."""
        ...

    def close(self) -> None: ...
