"""The shipped vocabulary, the spellings it accepts, and the errors a bad mapping file gives."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from plan_builders import MAPPINGS_DIR, group, shipped

from syncbot.errors import ConfigError
from syncbot.mappings import load_mappings
from syncbot.match_keys import fold
from syncbot.model import Status

LEADER_TITLES = [
    "Giám đốc",
    "Phó Giám đốc",
    "Chánh Văn phòng",
    "Phó Chánh Văn phòng",
    "Trưởng phòng",
    "Phó Trưởng phòng",
    "Chủ tịch",
    "Phó Chủ tịch",
]
SPECIALIST_TITLES = ["Chuyên viên", "Chuyên viên chính", "Chuyên viên cao cấp", "Cán sự"]


@pytest.mark.parametrize("title", LEADER_TITLES)
def test_shipped_leader_titles_map_to_lanh_dao(title: str) -> None:
    assert shipped().role_for_position(title) == "Lãnh đạo"


@pytest.mark.parametrize("title", SPECIALIST_TITLES)
def test_shipped_specialist_titles_map_to_chuyen_vien(title: str) -> None:
    assert shipped().role_for_position(title) == "Chuyên viên"


def test_shipped_clerk_and_administrator_titles() -> None:
    assert shipped().role_for_position("Văn thư") == "Văn thư"
    assert shipped().role_for_position("Quản trị hệ thống") == "Quản trị"


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("Đang công tác", Status.ACTIVE),
        ("Nghỉ việc", Status.DEPARTED),
        ("Thôi việc", Status.DEPARTED),
        ("Nghỉ hưu", Status.DEPARTED),
        ("Chuyển công tác", Status.TRANSFERRED),
    ],
)
def test_shipped_status_words(word: str, status: Status) -> None:
    assert shipped().vocabulary().statuses[fold(word)] is status


def test_shipped_roles_are_the_four_roles_with_ldap_groups() -> None:
    mapping = shipped().for_target("ldap", group)
    assert set(mapping.roles) == {"Văn thư", "Chuyên viên", "Lãnh đạo", "Quản trị"}
    assert mapping.roles["Lãnh đạo"] == frozenset({"cn=lanh-dao,ou=groups,dc=t"})
    assert mapping.units[fold("Phòng Công nghệ thông tin")] == (
        "cn=don-vi-phong-cong-nghe-thong-tin,ou=groups,dc=t"
    )
    assert shipped().target_names() == {"ldap", "keycloak"}


def test_shipped_keycloak_roles_are_client_roles_of_the_document_system() -> None:
    mapping = shipped().for_target("keycloak", lambda ref: ref)
    assert mapping.roles["Lãnh đạo"] == frozenset({"client:qoffice:lanh-dao"})
    assert mapping.units == {}  # unit groups live in LDAP


def test_unmapped_target_resolves_to_no_entitlements() -> None:
    mapping = shipped().for_target("sso-tinh", group)
    assert mapping.managed == frozenset()
    assert mapping.roles["Văn thư"] == frozenset()


def test_unknown_position_has_no_role() -> None:
    assert shipped().role_for_position("Kỹ sư phần mềm") is None
    assert shipped().role_for_position("") is None


@pytest.mark.parametrize(
    "spelling",
    [
        "Phó giám đốc",
        "PHÓ GIÁM ĐỐC",
        unicodedata.normalize("NFD", "Phó Giám đốc"),
        "  Phó   Giám\tđốc ",
    ],
    ids=["lower", "upper", "nfd", "spaces"],
)
def test_position_spellings_fold_to_one_title(spelling: str) -> None:
    assert shipped().role_for_position(spelling) == "Lãnh đạo"


@pytest.mark.parametrize(
    ("spelling", "status"),
    [
        ("NGHỈ VIỆC", Status.DEPARTED),
        (unicodedata.normalize("NFD", "Nghỉ hưu"), Status.DEPARTED),
        ("thôi  việc", Status.DEPARTED),
        (" chuyển CÔNG tác ", Status.TRANSFERRED),
        (unicodedata.normalize("NFD", "ĐANG CÔNG TÁC"), Status.ACTIVE),
    ],
)
def test_status_spellings_fold_to_one_word(spelling: str, status: Status) -> None:
    assert shipped().vocabulary().statuses[fold(spelling)] is status


def test_vocabulary_knows_role_names_and_aliases() -> None:
    roles = shipped().vocabulary().roles
    assert roles[fold("LÃNH ĐẠO")] == "Lãnh đạo"
    assert roles["leader"] == "Lãnh đạo"
    assert roles["van thu"] == "Văn thư"
    assert roles["admin"] == "Quản trị"


# --- errors -------------------------------------------------------------------------------


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _load_with(name: str, path: Path) -> None:
    load_mappings(MAPPINGS_DIR, overrides={name: path})


def _assert_names(err: ConfigError, path: Path, key: str) -> None:
    assert err.source == str(path)
    assert err.key == key
    assert str(path) in str(err)
    assert key in str(err)


def test_unknown_role_in_positions_names_file_and_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "positions", '[positions]\n"Giám đốc" = "Tổng chỉ huy"\n')
    with pytest.raises(ConfigError) as caught:
        _load_with("positions", path)
    _assert_names(caught.value, path, "positions.Giám đốc")
    assert "Tổng chỉ huy" in str(caught.value)


def test_position_may_name_a_role_by_alias(tmp_path: Path) -> None:
    path = _write(tmp_path, "positions", '[positions]\n"Giám đốc" = "leader"\n')
    mappings = load_mappings(MAPPINGS_DIR, overrides={"positions": path})
    assert mappings.role_for_position("giám đốc") == "Lãnh đạo"


def test_unknown_status_names_file_and_key(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "statuses",
        "[statuses]\n"
        'active = ["Đang công tác"]\n'
        'departed = ["Nghỉ việc"]\n'
        'transferred = ["Chuyển công tác"]\n'
        'suspended = ["Đình chỉ"]\n',
    )
    with pytest.raises(ConfigError) as caught:
        _load_with("statuses", path)
    _assert_names(caught.value, path, "statuses.suspended")


def test_missing_status_kind_names_the_kind(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "statuses", '[statuses]\nactive = ["Đang công tác"]\ndeparted = ["Nghỉ việc"]\n'
    )
    with pytest.raises(ConfigError) as caught:
        _load_with("statuses", path)
    _assert_names(caught.value, path, "statuses")
    assert "transferred" in str(caught.value)


def test_status_words_must_be_a_non_empty_list(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "statuses",
        '[statuses]\nactive = "Đang công tác"\ndeparted = ["Nghỉ việc"]\n'
        'transferred = ["Chuyển công tác"]\n',
    )
    with pytest.raises(ConfigError) as caught:
        _load_with("statuses", path)
    _assert_names(caught.value, path, "statuses.active")


def test_one_status_word_with_two_meanings_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "statuses",
        '[statuses]\nactive = ["Đang công tác"]\ndeparted = ["Nghỉ việc", "Điều chuyển"]\n'
        'transferred = ["ĐIỀU CHUYỂN"]\n',
    )
    with pytest.raises(ConfigError) as caught:
        _load_with("statuses", path)
    _assert_names(caught.value, path, "statuses.transferred")


def test_two_spellings_of_one_position_with_different_roles_are_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "positions",
        '[positions]\n"Phó giám đốc" = "Lãnh đạo"\n"Phó Giám Đốc" = "Chuyên viên"\n',
    )
    with pytest.raises(ConfigError) as caught:
        _load_with("positions", path)
    _assert_names(caught.value, path, "positions.Phó Giám Đốc")
    assert "twice" in str(caught.value)


def test_two_spellings_of_one_position_with_the_same_role_are_accepted(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "positions",
        '[positions]\n"Phó giám đốc" = "Lãnh đạo"\n"PHÓ GIÁM ĐỐC" = "lanh dao"\n',
    )
    mappings = load_mappings(MAPPINGS_DIR, overrides={"positions": path})
    assert mappings.positions == {"phó giám đốc": "Lãnh đạo"}


def test_role_targets_must_be_a_list(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "roles",
        '[roles."Văn thư"]\nldap = "van-thu"\n[roles."Lãnh đạo"]\nldap = ["lanh-dao"]\n',
    )
    with pytest.raises(ConfigError) as caught:
        _load_with("roles", path)
    _assert_names(caught.value, path, "roles.Văn thư.ldap")
    assert "list" in str(caught.value)


def test_role_targets_must_hold_strings(tmp_path: Path) -> None:
    path = _write(tmp_path, "roles", '[roles."Văn thư"]\nldap = ["van-thu", 7]\n')
    with pytest.raises(ConfigError) as caught:
        _load_with("roles", path)
    _assert_names(caught.value, path, "roles.Văn thư.ldap")


def test_role_alias_shared_by_two_roles_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "roles",
        '[roles."Văn thư"]\naliases = ["sếp"]\nldap = ["van-thu"]\n'
        '[roles."Lãnh đạo"]\naliases = ["SẾP"]\nldap = ["lanh-dao"]\n',
    )
    with pytest.raises(ConfigError) as caught:
        _load_with("roles", path)
    _assert_names(caught.value, path, "roles.Lãnh đạo")


def test_unit_group_must_be_a_string(tmp_path: Path) -> None:
    path = _write(tmp_path, "units", '[units."Văn phòng"]\nldap = ["don-vi-van-phong"]\n')
    with pytest.raises(ConfigError) as caught:
        _load_with("units", path)
    _assert_names(caught.value, path, "units.Văn phòng.ldap")


def test_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "units.toml"
    with pytest.raises(ConfigError) as caught:
        _load_with("units", path)
    assert caught.value.source == str(path)
    assert "not found" in str(caught.value)


def test_invalid_toml_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "units", '[units."Văn phòng"\nldap = \n')
    with pytest.raises(ConfigError) as caught:
        _load_with("units", path)
    assert caught.value.source == str(path)
    assert "TOML" in str(caught.value)


def test_misspelt_table_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "positions", '[position]\n"Giám đốc" = "Lãnh đạo"\n')
    with pytest.raises(ConfigError) as caught:
        _load_with("positions", path)
    _assert_names(caught.value, path, "position")


def test_empty_table_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "units", "[units]\n")
    with pytest.raises(ConfigError) as caught:
        _load_with("units", path)
    _assert_names(caught.value, path, "units")


def test_config_error_has_the_config_exit_code(tmp_path: Path) -> None:
    path = _write(tmp_path, "positions", '[positions]\n"Giám đốc" = "Không rõ"\n')
    with pytest.raises(ConfigError) as caught:
        _load_with("positions", path)
    assert caught.value.exit_code == 3
