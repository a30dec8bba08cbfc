"""An in-memory target for unit tests of the executor and the apply path.

Like octoDNS's test providers, it keeps what a directory would hold (accounts and their
groups, the target-wide settings) in plain dicts, so a test can plan against it, apply the
plan, read it again and see the next plan, with no server to start. It changes what a
step says exactly as `tests/plan_builders.applied` expects a flawless target to, records
every step it was sent, and fails the steps a test chooses, with the error a real target
raises, so failure handling is tested through the same code a real run takes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence

from plan_builders import ALL_MANAGED, TARGET, group

from syncbot.duty_settings import NO_SETTINGS, Duties, WantedSettings
from syncbot.lookup import Lookup, narrowed
from syncbot.model import Account, Action, ActionKind, Snapshot
from syncbot.targets.base import ApplyError, ReadRequest

#: Which steps fail: called with each step, returns the error to raise or None.
FailWhen = Callable[[Action], ApplyError | None]


def fail_step(kind: ActionKind, username: str, error: ApplyError | None = None) -> FailWhen:
    """Fail the one `kind` step of `username`, with `error` (a plain ApplyError by default)."""
    raised = error or ApplyError(f"fake: {kind.value} of {username} refused")

    def chosen(action: Action) -> ApplyError | None:
        return raised if action.kind is kind and action.username == username else None

    return chosen


def never(action: Action) -> ApplyError | None:
    return None


class FakeTarget:
    """A `syncbot.targets.base.Target` over a dict of accounts.

    Entitlement keys are `plan_builders.group`'s, so plans made with the shipped mappings
    name the groups this target holds. `applied` lists the steps that took effect,
    `attempted` every step sent (failed ones too), in the order they came; `batches` the
    size of each batch.
    """

    def __init__(
        self,
        accounts: Iterable[Account] = (),
        *,
        name: str = TARGET,
        entitlements: Iterable[str] = ALL_MANAGED,
        settings: dict[str, str] | None = None,
        wanted: WantedSettings = NO_SETTINGS,
        fail: FailWhen = never,
    ) -> None:
        self.name = name
        self.accounts = {a.key: a for a in accounts}
        self.entitlements = set(entitlements)
        self.settings = settings
        self.wanted = wanted
        self.fail = fail
        self.applied: list[Action] = []
        self.attempted: list[Action] = []
        self.signed_out: list[str] = []
        self.reads = 0
        self.lookups: list[Lookup | None] = []  # what each read asked for: None, whole
        self.batches: list[int] = []  # the size of each batch the executor sent
        self.closed = False

    def entitlement_key(self, ref: str) -> str:
        return ref if "=" in ref else group(ref)

    def read(self, request: ReadRequest) -> Snapshot:
        self.reads += 1
        managed = request.managed
        # As a real read does: only managed groups count as entitlements, every group as
        # a group (protection rules look at those).
        accounts = tuple(
            dataclasses.replace(a, entitlements=a.groups & managed) for a in self.accounts.values()
        )
        request.progress(len(accounts), len(accounts))
        whole = Snapshot(
            target=self.name,
            accounts=accounts,
            entitlements=frozenset(self.entitlements & managed),
            settings=None if self.settings is None else dict(self.settings),
            settings_key="fake-policy",
            locator=self.name,
        )
        self.lookups.append(request.lookup)
        # A targeted read returns what a real one must: the whole read, narrowed.
        return whole if request.lookup is None else narrowed(whole, request.lookup)

    def wanted_settings(self, duties: Duties) -> WantedSettings:
        return self.wanted

    def owned_for_federated(self, managed: frozenset[str]) -> frozenset[str]:
        return frozenset()  # like LDAP: no account here is federated from elsewhere

    def apply(self, steps: Sequence[Action], snapshot: Snapshot) -> list[ApplyError | None]:
        self.batches.append(len(steps))
        return [self._answer(step, snapshot) for step in steps]

    def _answer(self, step: Action, snapshot: Snapshot) -> ApplyError | None:
        if step.target != self.name or snapshot.locator != self.name:
            return ApplyError(f"fake: a step or snapshot of {step.target!r} sent to {self.name!r}")
        self.attempted.append(step)
        error = self.fail(step)
        if error is not None:
            return error
        try:
            self._change(step)
        except ApplyError as exc:
            return exc
        self.applied.append(step)
        return None

    def describe(self) -> list[str]:
        return [f"{self.name}: in-memory fake, {len(self.accounts)} accounts"]

    def close(self) -> None:
        self.closed = True

    def _change(self, action: Action) -> None:
        if action.kind is ActionKind.CONFIGURE:
            settings = self.settings if self.settings is not None else {}
            for setting, _, wanted in action.settings:
                if wanted is None:
                    settings.pop(setting, None)
                else:
                    settings[setting] = wanted
            self.settings = settings
            return
        if action.account not in self.accounts:
            raise ApplyError(f"fake: no account {action.account}")
        current = self.accounts[action.account]
        if action.kind in (ActionKind.DISABLE, ActionKind.ENABLE):
            current = dataclasses.replace(current, enabled=action.kind is ActionKind.ENABLE)
        elif action.kind is ActionKind.SIGN_OUT:
            self.signed_out.append(action.account)
        elif action.kind is ActionKind.REQUIRE_PASSWORD_CHANGE:
            current = dataclasses.replace(current, must_change_password=True)
        else:
            missing = set(action.add) - self.entitlements
            if missing:
                raise ApplyError(f"fake: no group {sorted(missing)[0]}")
            groups = (current.groups - set(action.remove)) | set(action.add)
            current = dataclasses.replace(current, groups=groups)
        self.accounts[action.account] = current
