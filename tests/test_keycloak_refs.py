"""Keycloak entitlement references, keys, settings and the pure helpers of the target."""

from __future__ import annotations

import base64
import json
import unicodedata

import pytest

from syncbot.errors import ConfigError
from syncbot.targets.base import ReadRequest
from syncbot.targets.keycloak import KeycloakSettings, KeycloakTarget
from syncbot.targets.keycloak.api import body_text, decode_claims, roles_in, segment, segments
from syncbot.targets.keycloak.checks import roles_line
from syncbot.targets.keycloak.permissions import missing, need_for
from syncbot.targets.keycloak.refs import (
    ACCEPTED_FORMS,
    EntitlementKind,
    client_role,
    group,
    parse_key,
    parse_reference,
    realm_role,
)

SECRET = "s3cret-value-never-shown"


def settings(**changes: object) -> KeycloakSettings:
    values: dict[str, object] = {
        "name": "keycloak",
        "server_url": "https://sso.tinh.gov.vn",
        "realm": "so-noi-vu",
        "client_id": "syncbot",
        "client_secret": SECRET,
    }
    values.update(changes)
    return KeycloakSettings(**values)  # type: ignore[arg-type]


def target() -> KeycloakTarget:
    return KeycloakTarget(settings())


# -- references and keys -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "key"),
    [
        ("realm:van-thu", "realm-role:van-thu"),
        ("Realm:Van-Thu", "realm-role:Van-Thu"),  # prefix folded, role case kept
        ("  realm: lanh-dao ", "realm-role:lanh-dao"),
        ("client:qoffice:chuyen-vien", "client-role:qoffice:chuyen-vien"),
        ("CLIENT:QOffice:Quan-Tri", "client-role:QOffice:Quan-Tri"),
        # A SAML client is named by URL: the role is what follows the last colon.
        (
            "client:https://vb.tinh.gov.vn/saml:van-thu",
            "client-role:https://vb.tinh.gov.vn/saml:van-thu",
        ),
        ("group:Phòng Tài chính", "group:/Phòng Tài chính"),
        ("group:/Phòng Tài chính", "group:/Phòng Tài chính"),
        ("group:/Sở Nội vụ/Văn phòng/", "group:/Sở Nội vụ/Văn phòng"),
        ("Group://don-vi", "group:/don-vi"),
    ],
)
def test_reference_becomes_key(ref: str, key: str) -> None:
    assert target().entitlement_key(ref) == key


def test_decomposed_vietnamese_is_composed() -> None:
    decomposed = unicodedata.normalize("NFD", "group:Phòng Tài chính")
    assert decomposed != "group:Phòng Tài chính"
    assert target().entitlement_key(decomposed) == "group:/Phòng Tài chính"


@pytest.mark.parametrize(
    "ref",
    [
        "van-thu",
        "cn=van-thu,ou=groups,dc=example,dc=vn",
        "realm:",
        "realm:   ",
        "client:qoffice",
        "client::van-thu",
        "client:qoffice:",
        "group:",
        "group:/",
        "role:van-thu",
        "realm-role:van-thu",  # a key is not a reference
        "",
    ],
)
def test_bad_reference_names_itself_and_the_forms(ref: str) -> None:
    with pytest.raises(ConfigError) as caught:
        target().entitlement_key(ref)
    message = str(caught.value)
    assert repr(ref) in message
    assert ACCEPTED_FORMS in message
    assert caught.value.source == "targets.keycloak"


@pytest.mark.parametrize(
    "ref", ["realm:van-thu", "client:qoffice:lanh-dao", "group:Phòng Tài chính"]
)
def test_key_parses_back_to_the_same_entitlement(ref: str) -> None:
    entitlement = parse_reference(ref, target="kc")
    assert parse_key(entitlement.key) == entitlement


def test_parsed_kinds_and_descriptions() -> None:
    assert parse_key("realm-role:van-thu") == realm_role("van-thu")
    assert parse_key("client-role:qoffice:van-thu") == client_role("qoffice", "van-thu")
    assert parse_key("group:/a/b") == group("a/b")
    assert str(realm_role("van-thu")) == "realm role 'van-thu'"
    assert str(client_role("qoffice", "van-thu")) == "role 'van-thu' of client 'qoffice'"
    assert str(group("/Văn phòng")) == "group '/Văn phòng'"
    assert group("x").kind is EntitlementKind.GROUP


@pytest.mark.parametrize(
    "key",
    ["van-thu", "group:no-slash", "group:/", "client-role:qoffice", "realm-role:", "cn=x,dc=y"],
)
def test_foreign_keys_are_not_parsed(key: str) -> None:
    assert parse_key(key) is None


def test_read_refuses_a_key_it_did_not_make() -> None:
    # Raised before any request, so no server is needed.
    with pytest.raises(ConfigError, match="not a Keycloak entitlement key"):
        target().read(ReadRequest(frozenset({"cn=van-thu,ou=groups,dc=x"})))


def test_federated_accounts_keep_only_client_roles() -> None:
    managed = frozenset(
        {"realm-role:van-thu", "client-role:qoffice:van-thu", "group:/Phòng Tài chính"}
    )
    assert target().owned_for_federated(managed) == {"client-role:qoffice:van-thu"}


# -- settings ------------------------------------------------------------------------------


def test_secret_stays_out_of_repr() -> None:
    assert SECRET not in repr(settings())
    assert SECRET not in repr(target())
    assert SECRET not in repr(target().api)


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"server_url": "ldap://sso"}, "server_url"),
        ({"server_url": "sso.tinh.gov.vn"}, "server_url"),
        ({"realm": " "}, "realm"),
        ({"client_id": ""}, "client_id"),
        ({"client_secret": ""}, "client_secret"),
        ({"page_size": 0}, "page_size"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_invalid_settings_name_the_key(changes: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(**changes)
    assert caught.value.key == key


def test_ca_file_is_what_requests_verifies_against() -> None:
    assert settings().tls is True
    assert settings(verify=False).tls is False
    assert settings(ca_file="/etc/ssl/tinh-ca.pem").tls == "/etc/ssl/tinh-ca.pem"


# -- pure helpers ------------------------------------------------------------------------


def test_path_escaping() -> None:
    assert segment("https://vb/saml") == "https%3A%2F%2Fvb%2Fsaml"
    assert segment("lãnh đạo") == "l%C3%A3nh%20%C4%91%E1%BA%A1o"
    assert (
        segments("/Sở Nội vụ/Văn phòng")
        == "S%E1%BB%9F%20N%E1%BB%99i%20v%E1%BB%A5/V%C4%83n%20ph%C3%B2ng"
    )


def test_error_body_is_keycloaks_words_with_the_secret_masked() -> None:
    body = json.dumps({"error": "invalid_client", "error_description": f"bad {SECRET}"})
    text = body_text(body.encode(), SECRET)
    assert text == "invalid_client: bad ***"
    assert body_text(b"<html>oops</html>", SECRET) == "<html>oops</html>"
    assert len(body_text(b"x" * 5000, SECRET)) == 300


def token_with(claims: dict[str, object]) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"e30.{payload}.sig"


def test_roles_come_from_the_token_claims() -> None:
    claims = decode_claims(
        token_with({"resource_access": {"realm-management": {"roles": ["manage-users"]}}})
    )
    assert roles_in(claims) == frozenset({"manage-users"})
    assert roles_in(decode_claims(token_with({"resource_access": {}}))) == frozenset()
    assert roles_in(decode_claims(token_with({"sub": "x"}))) is None
    assert decode_claims("not-a-jwt") == {}


def test_missing_roles_are_named_with_their_purpose() -> None:
    assert [need.role for need in missing({"manage-users"})] == ["view-realm", "view-clients"]
    assert missing({"manage-users", "manage-realm", "view-clients"}) == []
    line = roles_line(
        {"resource_access": {"realm-management": {"roles": ["view-users", "view-clients"]}}},
        "syncbot",
    )
    assert line.startswith("realm-management roles MISSING: manage-users (")
    assert "view-realm (read realm roles" in line
    assert "view-clients" not in line
    assert "Clients → syncbot → Service accounts roles" in line


def test_forbidden_paths_point_at_the_role() -> None:
    assert need_for("roles/van-thu/users").role == "view-realm"
    assert need_for("clients").role == "view-clients"
    assert need_for("clients/1234/roles/van-thu/users").role == "view-clients"
    assert need_for("users/1234/logout").role == "manage-users"
