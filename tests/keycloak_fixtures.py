"""Pytest plugin: a real Keycloak for the tests, one server per run and one realm per test.

Registered with `pytest_plugins = ["keycloak_fixtures"]`. The server comes from the
distribution `.ci/install-keycloak` unpacks, or is the one `SYNCBOT_KEYCLOAK_URL` names.
A server that cannot start fails the tests that need it; they are never skipped.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from localdev.keycloak import KeycloakServer, RealmHandle
from syncbot.targets.keycloak import KeycloakTarget
from syncbot.targets.keycloak.settings import KeycloakSettings

_INSTALL_HINT = "install Keycloak with `bash .ci/install-keycloak`"


@pytest.fixture(scope="session")
def keycloak_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeycloakServer]:
    """One Keycloak for the whole run (starting one takes 20-60 s), stopped at the end."""
    server = KeycloakServer(tmp_path_factory.mktemp("keycloak"))
    try:
        server.start()
    except RuntimeError as error:
        raise RuntimeError(
            f"{error}\n\nthe Keycloak tests need a server: {_INSTALL_HINT}"
        ) from None
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def keycloak_realm(
    keycloak_server: KeycloakServer, request: pytest.FixtureRequest
) -> Iterator[RealmHandle]:
    """A fresh realm named after the test, deleted afterwards (see `RealmHandle`)."""
    realm = keycloak_server.create_realm(realm_name(request.node.name))
    try:
        yield realm
    finally:
        realm.delete()


def realm_name(test_name: str) -> str:
    """A unique, URL-safe realm name that still says which test made it."""
    stem = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")[:40].rstrip("-")
    return f"t-{stem}-{secrets.token_hex(3)}"


def realm_settings(realm: RealmHandle, **changes: Any) -> KeycloakSettings:
    """Target settings for the test realm's service client, with `changes` applied."""
    values: dict[str, Any] = {
        "name": "keycloak",
        "server_url": realm.server_url,
        "realm": realm.name,
        "client_id": realm.client_id,
        "client_secret": realm.client_secret,
    }
    values.update(changes)
    return KeycloakSettings(**values)


@contextlib.contextmanager
def realm_target(realm: RealmHandle, **changes: Any) -> Iterator[KeycloakTarget]:
    """A target on the test realm, closed afterwards."""
    target = KeycloakTarget(realm_settings(realm, **changes))
    try:
        yield target
    finally:
        target.close()
