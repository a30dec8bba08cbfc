"""A directory's values equal to the roster's are held as the roster's own strings."""

from __future__ import annotations

from plan_builders import row

from syncbot.roster_strings import NO_ROSTER_STRINGS, RosterStrings


def fresh(text: str) -> str:
    """An equal string that is not the same object, as a directory read decodes it."""
    return "".join(list(text))


def test_equal_values_become_the_rows_own_strings() -> None:
    person = row(1, "NV001", name="Nguyễn Văn An", email="an@so.gov.vn")
    known = RosterStrings([person, row(2)])
    employee_id, email, name = known.shared(
        fresh("NV001"), fresh("an@so.gov.vn"), fresh(person.full_name)
    )

    assert (employee_id, email, name) == ("NV001", "an@so.gov.vn", "Nguyễn Văn An")
    assert employee_id is person.employee_id
    assert email is person.email
    assert name is person.full_name
    assert len(known) == 2


def test_values_that_differ_even_in_case_stay_as_the_directory_spells_them() -> None:
    person = row(1, "NV001", name="Nguyễn Văn An", email="an@so.gov.vn")
    email, name = fresh("An@So.gov.vn"), fresh("Nguyen Van An")
    shared = RosterStrings([person]).shared(fresh("NV001"), email, name)

    assert shared[0] is person.employee_id
    assert shared[1] is email and shared[2] is name


def test_unknown_or_missing_ids_change_nothing() -> None:
    known = RosterStrings([row(1, "NV001", email="an@so.gov.vn")])
    values = (fresh("nv001"), fresh("an@so.gov.vn"), None)  # ids are looked up as written

    assert all(a is b for a, b in zip(known.shared(*values), values, strict=True))
    assert known.shared(None, "an@so.gov.vn", None) == (None, "an@so.gov.vn", None)
    assert NO_ROSTER_STRINGS.shared("NV001", None, "An") == ("NV001", None, "An")
