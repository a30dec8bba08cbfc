"""One step at a time against a real target, for tests that check a single change.

The contract applies batches (`Target.apply(steps, snapshot)`); a test about one step
wants its error raised, as the executor would record it.
"""

from __future__ import annotations

from syncbot.model import Action, Snapshot
from syncbot.targets.base import Target


def apply_one(target: Target, step: Action, snapshot: Snapshot) -> None:
    """Apply `step`, planned from `snapshot`, and raise its error if it failed."""
    (error,) = target.apply([step], snapshot)
    if error is not None:
        raise error
