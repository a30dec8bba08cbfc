"""Showing a plan to a person: grouped by action, with counts and the reason for each line."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator

from syncbot.model import Action, ActionKind, Finding, FindingKind, Plan, Reason
from syncbot.wording import cli as words
from syncbot.wording.pair import Pair, both, choose
from syncbot.wording.reasons import vn_date
from syncbot.wording.titles import ACTION_TITLES, FINDING_TITLES


def short_name(key: str) -> str:
    """The first RDN value of a DN ("cn=lanh-dao,ou=groups,…" → "lanh-dao"), else the key."""
    head = key.split(",", 1)[0]
    return head.split("=", 1)[1] if "=" in head else key


def _say(reason: Reason, lang: str) -> str:
    return choose((reason.vi, reason.en), lang)


def _title(titles: Pair, lang: str) -> str:
    # A heading stays bilingual unless English alone is asked for.
    return titles[1] if lang == "en" else both(titles)


def settings_lines(action: Action) -> list[str]:
    """A CONFIGURE step as one "name: now → wanted" line per setting (∅: not set)."""
    return [f"{name}: {now or '∅'} → {wanted or '∅'}" for name, now, wanted in action.settings]


def _what(action: Action) -> str:
    names = [short_name(k) for k in (*action.remove, *action.add)]
    if action.kind is ActionKind.CHANGE_UNIT:
        old = ", ".join(short_name(k) for k in action.remove) or "—"
        new = ", ".join(short_name(k) for k in action.add) or "—"
        return f"{old} → {new}"
    if action.role:
        return f"{action.role} ({', '.join(names)})"
    return ", ".join(names)


def _action_line(action: Action, lang: str) -> str:
    if action.kind is ActionKind.CONFIGURE:
        changes = "".join(f"\n        {line}" for line in settings_lines(action))
        return f"  {action.target:<8} {action.username}{changes}\n      {_say(action.reason, lang)}"
    who = f"{action.username} [{action.employee_id or '?'}]"
    what = _what(action)
    row = f"[{words.ROW} {action.evidence.row}] " if action.evidence else ""
    head = f"  {action.target:<8} {who}" + (f"  {what}" if what else "")
    return f"{head}\n      {row}{_say(action.reason, lang)}"


def _dates(finding: Finding, lang: str) -> str:
    """When a finding began and when it takes effect, in the reader's date format."""
    parts: list[str] = []
    for value, (vi, en) in ((finding.since, words.SINCE), (finding.due, words.DUE)):
        if value is None:
            continue
        if lang == "en":
            parts.append(f"{en} {value.isoformat()}")
        elif lang == "both":
            parts.append(f"{both((vi, en))} {vn_date(value)}")
        else:
            parts.append(f"{vi} {vn_date(value)}")
    return f" [{'; '.join(parts)}]" if parts else ""


def _finding_line(finding: Finding, lang: str) -> str:
    where = f"{finding.target}: " if finding.target else ""
    return f"  {where}{_say(finding.reason, lang)}{_dates(finding, lang)}"


def _by_action(plan: Plan, lang: str) -> Iterator[str]:
    by_kind: dict[ActionKind, list[Action]] = defaultdict(list)
    for action in plan.actions:
        by_kind[action.kind].append(action)
    for kind, titles in ACTION_TITLES.items():
        if by_kind[kind]:
            yield ""
            yield f"{_title(titles, lang)} ({len(by_kind[kind])})"
            yield from (_action_line(a, lang) for a in by_kind[kind])


def _by_person(plan: Plan, lang: str) -> Iterator[str]:
    """Each person once, every target's steps under them in the order they will run."""
    people: dict[str, list[Action]] = defaultdict(list)
    for action in plan.actions:
        people[action.employee_id or f"{action.target}:{action.account}"].append(action)
    for person, actions in people.items():
        first = actions[0]
        evidence = first.evidence
        row = f", {words.ROW} {evidence.row}: {evidence.status}" if evidence else ""
        yield ""
        if first.kind is ActionKind.CONFIGURE:
            yield f"{first.target}: {first.username}"  # the target itself, not a person
        else:
            yield f"{first.username} [{person}]{row}"
        for action in actions:
            title = _title(ACTION_TITLES[action.kind], lang)
            what = _what(action)
            yield f"  {action.target:<9} {title}" + (f": {what}" if what else "")
            yield from (f"            {line}" for line in settings_lines(action))
            yield f"            {_say(action.reason, lang)}"


def render_plan(plan: Plan, *, lang: str = "vi", by: str = "action") -> Iterator[str]:
    """Lines for a terminal: a header, the actions by kind or by person, findings, a summary."""
    matched = ", ".join(f"{t}: {n}" for t, n in plan.matched.items())
    yield from words.roster_lines(
        plan.roster_path, plan.roster_sha256, plan.roster_rows, plan.today, matched
    )
    yield from (_by_person if by == "person" else _by_action)(plan, lang)
    by_finding: dict[FindingKind, list[Finding]] = defaultdict(list)
    for finding in plan.findings:
        by_finding[finding.kind].append(finding)
    if plan.findings:
        yield ""
        yield both(words.FOR_REVIEW)
    for finding_kind, titles in FINDING_TITLES.items():
        if by_finding[finding_kind]:
            yield f"- {_title(titles, lang)} ({len(by_finding[finding_kind])})"
            yield from (_finding_line(f, lang) for f in by_finding[finding_kind])
    yield ""
    yield summary(plan)


def summary(plan: Plan) -> str:
    if plan.empty:
        return both(words.NOTHING_TO_CHANGE)
    counts = Counter(a.kind for a in plan.actions)
    people = len(
        {a.employee_id or a.account for a in plan.actions if a.kind is not ActionKind.CONFIGURE}
    )
    parts = ", ".join(f"{kind.value} {counts[kind]}" for kind in ACTION_TITLES if counts[kind])
    return words.plan_summary(len(plan.actions), people, parts)


def plan_json(plan: Plan) -> str:
    return json.dumps(plan.as_dict(), ensure_ascii=False, indent=2)
