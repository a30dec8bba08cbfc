"""The sample department's Keycloak realm: federated from the sample LDAP, with drifted roles.

Users come in through LDAP federation, as in most provinces; the document system's client
roles (`qoffice`) were granted by hand over the years and have drifted like the LDAP groups.
"""

from __future__ import annotations

from datetime import date

from localdev.keycloak import DOCUMENT_CLIENT, RealmHandle
from localdev.sample import ROLE_GROUPS, groups_of, people
from localdev.slapd import SlapdServer

REALM = "tinh-mau"


def federate(realm: RealmHandle, server: SlapdServer) -> None:
    """Import the sample directory's people into the realm through User Federation."""
    realm.add_ldap_federation(
        server.url, server.service_dn, server.service_password, server.people_base
    )
    realm.sync_ldap_users()


def grant_drifted_client_roles(realm: RealmHandle, today: date) -> int:
    """Give each person the `qoffice` roles matching their (drifted) LDAP role groups."""
    client = realm.client_uuid(DOCUMENT_CLIENT)
    role_names = set(ROLE_GROUPS.values())
    representations = {r: realm.admin.get_client_role(client, r) for r in role_names}
    granted = 0
    for person in people(today):
        roles = [representations[g] for g in groups_of(person) if g in role_names]
        if not person.account or not roles:
            continue
        user_id = realm.admin.get_user_id(person.uid)
        if user_id is None:
            raise RuntimeError(f"{person.uid} was not imported into {realm.name}")
        realm.admin.assign_client_role(user_id, client, roles)
        granted += len(roles)
    return granted


def keycloak_config(realm: RealmHandle, secret_file: str) -> str:
    """The [targets.keycloak] table for a config file."""
    return f"""
[targets.keycloak]
type = "keycloak"
server_url = "{realm.server_url}"
realm = "{realm.name}"
client_id = "{realm.client_id}"
client_secret_file = "{secret_file}"
"""
