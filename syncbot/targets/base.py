"""The small interface every target implements, in the manner of an octoDNS provider."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from syncbot.duty_settings import OBSERVE_NOTHING, Duties, Observe, WantedSettings
from syncbot.model import Action, Snapshot
from syncbot.roster_strings import NO_ROSTER_STRINGS, RosterStrings

#: Called with (done, total) while a target fetches or applies; total may be None.
Progress = Callable[[int, int | None], None]


def no_progress(done: int, total: int | None) -> None:
    """A progress callback that shows nothing (tests, non-terminals)."""


class ApplyError(Exception):
    """One step failed in the target; the executor records it and goes on with the others."""


class AnswerLost(ApplyError):
    """The change was sent, but the connection died before the answer came: it may have
    been made. The next run looks at the directory and records it if it was."""


class Target(Protocol):
    """A directory syncbot reads whole and changes one account at a time."""

    name: str

    def entitlement_key(self, ref: str) -> str:
        """Turn a mapping reference (a group name or DN, a role) into the key snapshots use."""
        ...

    def fetch(
        self,
        managed: frozenset[str],
        progress: Progress = no_progress,
        observe: Observe = OBSERVE_NOTHING,
        known: RosterStrings = NO_ROSTER_STRINGS,
    ) -> Snapshot:
        """Read every managed account and the membership of every managed entitlement.

        Must be a handful of bulk reads, never a query per person - except where `observe`
        asks for something the target only gives per person, and then only for the
        accounts that need it. Values equal to a `known` person's are kept as the
        roster's strings (`RosterStrings.shared`).
        """
        ...

    def wanted_settings(self, duties: Duties) -> WantedSettings:
        """The target-wide settings (password policy, event storage) the duties call for,
        in the target's vocabulary; compared with `Snapshot.settings` by the planner."""
        ...

    def owned_for_federated(self, managed: frozenset[str]) -> frozenset[str]:
        """Of `managed`, what this target changes itself for accounts federated from LDAP."""
        ...

    def apply(self, action: Action) -> None:
        """Perform one action; raise `ApplyError` with a message on failure."""
        ...

    def describe(self) -> list[str]:
        """Connect and say what was found (for `syncbot check-config`); raise TargetError."""
        ...

    def close(self) -> None: ...
