"""Pairing roster rows with accounts: by employee id, then a fallback only for id-less accounts."""

from __future__ import annotations

from plan_builders import account, row

from syncbot.matching import Fallback, match
from syncbot.model import Account, RosterRow


def _pairs(result_pairs: tuple[tuple[RosterRow, Account], ...]) -> set[tuple[str, str]]:
    return {(r.employee_id, a.username) for r, a in result_pairs}


def test_matches_by_employee_id_ignoring_case_and_spaces() -> None:
    rows = [row(1, "NV001"), row(2, "nv002")]
    accounts = [account("an", " nv001 "), account("binh", "NV002")]
    result = match(rows, accounts, Fallback.NONE)
    assert _pairs(result.pairs) == {("NV001", "an"), ("nv002", "binh")}
    assert result.ambiguous == ()
    assert result.unmatched_rows == ()
    assert result.orphans == ()


def test_without_fallback_id_less_accounts_stay_unmatched() -> None:
    rows = [row(1, email="an@so.gov.vn", username="an")]
    accounts = [account("an", None, email="an@so.gov.vn")]
    result = match(rows, accounts, Fallback.NONE)
    assert list(result.pairs) == []
    assert result.unmatched_rows == (rows[0],)
    assert result.orphans == (accounts[0],)


def test_email_fallback_matches_id_less_account_ignoring_case() -> None:
    rows = [row(1, email="An.Nguyen@so.gov.vn")]
    accounts = [account("an", None, email="an.nguyen@SO.gov.vn ")]
    result = match(rows, accounts, Fallback.EMAIL)
    assert _pairs(result.pairs) == {("NV001", "an")}
    assert result.orphans == ()


def test_blank_employee_id_counts_as_none_for_the_fallback() -> None:
    rows = [row(1, email="an@so.gov.vn")]
    accounts = [account("an", "  ", email="an@so.gov.vn")]
    result = match(rows, accounts, Fallback.EMAIL)
    assert _pairs(result.pairs) == {("NV001", "an")}


def test_email_never_matches_an_account_with_another_employee_id() -> None:
    rows = [row(1, "NV001", email="an@so.gov.vn")]
    accounts = [account("an", "NV999", email="an@so.gov.vn")]
    result = match(rows, accounts, Fallback.EMAIL)
    assert list(result.pairs) == []
    assert result.unmatched_rows == (rows[0],)
    assert result.orphans == (accounts[0],)


def test_username_fallback_uses_the_roster_username() -> None:
    rows = [row(1, username="AnNV"), row(2, username=None)]
    accounts = [account("annv", None), account("binh", None)]
    result = match(rows, accounts, Fallback.USERNAME)
    assert _pairs(result.pairs) == {("NV001", "annv")}
    assert result.unmatched_rows == (rows[1],)
    assert result.orphans == (accounts[1],)


def test_username_fallback_ignores_email() -> None:
    rows = [row(1, email="an@so.gov.vn")]
    accounts = [account("an", None, email="an@so.gov.vn")]
    result = match(rows, accounts, Fallback.USERNAME)
    assert list(result.pairs) == []


def test_row_without_email_is_not_matched_by_email() -> None:
    rows = [row(1, email=None)]
    accounts = [account("an", None, email=None)]
    result = match(rows, accounts, Fallback.EMAIL)
    assert list(result.pairs) == []
    assert result.unmatched_rows == (rows[0],)


def test_employee_id_wins_over_the_fallback() -> None:
    rows = [row(1, "NV001", email="an@so.gov.vn")]
    by_id = account("an", "NV001", email="an.cu@so.gov.vn")
    by_email = account("an2", None, email="an@so.gov.vn")
    result = match(rows, [by_email, by_id], Fallback.EMAIL)
    assert _pairs(result.pairs) == {("NV001", "an")}
    assert result.orphans == (by_email,)


def test_two_accounts_with_one_employee_id_are_ambiguous_and_not_orphans() -> None:
    rows = [row(1, "NV001")]
    first, second = account("an", "NV001"), account("an.nguyen", "NV001")
    result = match(rows, [first, second], Fallback.NONE)
    assert list(result.pairs) == []
    assert len(result.ambiguous) == 1
    assert result.ambiguous[0].rows == (rows[0],)
    assert set(result.ambiguous[0].accounts) == {first, second}
    assert result.orphans == ()
    assert result.unmatched_rows == ()


def test_two_id_less_accounts_with_one_email_are_ambiguous() -> None:
    rows = [row(1, email="vanphong@so.gov.vn")]
    first = account("vp1", None, email="vanphong@so.gov.vn")
    second = account("vp2", None, email="VanPhong@so.gov.vn")
    result = match(rows, [first, second], Fallback.EMAIL)
    assert list(result.pairs) == []
    assert [set(a.accounts) for a in result.ambiguous] == [{first, second}]
    assert result.orphans == ()


def test_one_account_claimed_by_two_rows_is_ambiguous_once() -> None:
    rows = [row(1, email="chung@so.gov.vn"), row(2, email="chung@so.gov.vn"), row(3, "NV003")]
    shared = account("chung", None, email="chung@so.gov.vn")
    own = account("binh", "NV003")
    result = match(rows, [shared, own], Fallback.EMAIL)
    assert _pairs(result.pairs) == {("NV003", "binh")}
    assert len(result.ambiguous) == 1
    assert result.ambiguous[0].rows == (rows[0], rows[1])
    assert result.ambiguous[0].accounts == (shared,)
    assert result.orphans == ()
    assert result.unmatched_rows == ()


def test_every_row_and_account_is_accounted_for_exactly_once() -> None:
    rows = [
        row(1, "NV001"),
        row(2, "NV002"),
        row(3, "NV003", email="c@so.gov.vn"),
        row(4, "NV004", email="d@so.gov.vn"),
        row(5, "NV005", email="d@so.gov.vn"),
        row(6, "NV006"),
    ]
    accounts = [
        account("a", "NV001"),
        account("b1", "NV002"),
        account("b2", "NV002"),
        account("c", None, email="c@so.gov.vn"),
        account("d", None, email="d@so.gov.vn"),
        account("x", "NV900"),
        account("y", None, email="y@so.gov.vn"),
    ]
    result = match(rows, accounts, Fallback.EMAIL)
    seen_rows = [r.row for r, _ in result.pairs] + [r.row for r in result.unmatched_rows]
    seen_rows += [r.row for amb in result.ambiguous for r in amb.rows]
    seen_accounts = [a.key for _, a in result.pairs] + [a.key for a in result.orphans]
    seen_accounts += [a.key for amb in result.ambiguous for a in amb.accounts]
    assert sorted(seen_rows) == [1, 2, 3, 4, 5, 6]
    assert sorted(seen_accounts) == sorted(a.key for a in accounts)
    assert _pairs(result.pairs) == {("NV001", "a"), ("NV003", "c")}
    assert [r.employee_id for r in result.unmatched_rows] == ["NV006"]
    assert {a.username for a in result.orphans} == {"x", "y"}
