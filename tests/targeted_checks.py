"""The targeted-read check the live directories share (Samba AD, 389 DS).

The sample department is seeded alike in both: the same ids, the same id-less service
accounts and the same groups, so one check says what a targeted read must be on each.
"""

from __future__ import annotations

import dataclasses
from datetime import date

from plan_builders import row

from localdev.sample_directories import group_names
from syncbot.duty_settings import Observe
from syncbot.lookup import Lookup, narrowed
from syncbot.matching import Fallback
from syncbot.model import Action, ActionKind, Reason
from syncbot.targets.base import ReadRequest
from syncbot.targets.ldap.target import LdapTarget


def check_targeted_read_and_apply(target: LdapTarget, today: date) -> None:
    """Only the looked-up accounts, each as the full read gives it (locks, protected
    groups, observed dates), and a snapshot the server accepts steps planned from."""
    managed = frozenset(target.entitlement_key(g) for g in group_names())
    observe = Observe(passwords=True, sign_ins_since=today, failures_since=today)
    full = target.read(ReadRequest(managed, observe=observe))
    with_id = sorted(a.employee_id for a in full.accounts if a.employee_id)
    # Every other id, ids spelt otherwise or unknown, and id-less accounts by username.
    ids = [*with_id[::2], with_id[1].lower(), "KHONG-CO-AI", "x*(y)\\z"]
    ids += [a.employee_id for a in full.accounts if a.employee_id and not a.enabled]
    names = ["admin-sys", "BREAKGLASS", "khong-co-ai"]
    rows = [row(n, f"R{n}", username=name) for n, name in enumerate(names, start=1)]
    lookup = Lookup.build(ids, rows, Fallback.USERNAME)
    targeted = target.read(ReadRequest(managed, observe=observe, lookup=lookup))
    expected = narrowed(full, lookup)
    assert sorted(targeted.accounts, key=lambda a: a.key) == sorted(
        expected.accounts, key=lambda a: a.key
    )
    assert targeted.entitlements == full.entitlements and targeted.settings is None
    found = {a.username: a for a in targeted.accounts}
    assert {"admin-sys", "breakglass"} <= found.keys()
    assert len(found) < len(full.accounts)
    assert any(not a.enabled for a in found.values())

    lanh_dao = target.entitlement_key("lanh-dao")
    chosen = next(
        a for a in targeted.accounts if a.enabled and a.employee_id and lanh_dao not in a.groups
    )
    step = Action(
        target=target.name,
        kind=ActionKind.DISABLE,
        account=chosen.key,
        username=chosen.username,
        employee_id=chosen.employee_id,
        reason=Reason(vi="Kiểm thử", en="test"),
        evidence=None,
    )
    grant = dataclasses.replace(step, kind=ActionKind.GRANT, add=(lanh_dao,))
    assert target.apply([step], targeted) == [None]
    assert target.apply([grant], targeted) == [None]
    after = {a.key: a for a in target.read(ReadRequest(managed)).accounts}[chosen.key]
    assert after.enabled is False
    assert lanh_dao in after.entitlements
