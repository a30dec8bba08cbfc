"""The python-ldap paged search against a real OpenLDAP: pages counted as they end, and
whatever way a search ends, the connection is usable for the next one."""

from __future__ import annotations

import dataclasses

import pytest

from localdev.slapd import SlapdServer
from syncbot.targets.ldap import LdapSettings
from syncbot.targets.ldap.fast_search import PagedSearcher, SearchFailed


def people(server: SlapdServer, count: int) -> None:
    server.bulk_load(
        "\n".join(
            f"dn: uid=page{i:04d},{server.people_base}\nobjectClass: inetOrgPerson\n"
            f"uid: page{i:04d}\ncn: Người {i}\nsn: N\n"
            for i in range(count)
        )
    )


@pytest.mark.slapd
def test_pages_are_counted_in_order(
    ldap_directory: SlapdServer, ldap_settings: LdapSettings
) -> None:
    people(ldap_directory, 250)
    searcher = PagedSearcher(dataclasses.replace(ldap_settings, page_size=100))
    counts: list[int] = []
    try:
        found = list(
            searcher.search(ldap_settings.users_base, "(uid=page*)", ["uid"], counts.append)
        )
    finally:
        searcher.close()
    assert sorted(e["attributes"]["uid"][0] for e in found) == [f"page{i:04d}" for i in range(250)]
    assert counts == [100, 100, 50]


@pytest.mark.slapd
def test_a_reader_stopping_early_leaves_the_connection_usable(
    ldap_directory: SlapdServer, ldap_settings: LdapSettings
) -> None:
    people(ldap_directory, 250)
    searcher = PagedSearcher(dataclasses.replace(ldap_settings, page_size=100))
    try:
        entries = searcher.search(ldap_settings.users_base, "(uid=page*)", ["uid"])
        first = [next(entries) for _ in range(150)]  # into the second page
        entries.close()  # the rest of the second page is abandoned
        again = list(searcher.search(ldap_settings.users_base, "(uid=page*)", ["uid"]))
    finally:
        searcher.close()
    assert len(first) == 150
    assert len(again) == 250


@pytest.mark.slapd
def test_a_refused_search_leaves_the_connection_usable(ldap_settings: LdapSettings) -> None:
    searcher = PagedSearcher(ldap_settings)
    try:
        with pytest.raises(SearchFailed) as raised:
            list(searcher.search("ou=nobody,dc=example,dc=gov,dc=vn", "(uid=*)", ["uid"]))
        assert raised.value.result["description"] == "noSuchObject"
        assert list(searcher.search(ldap_settings.users_base, "(uid=*)", ["1.1"]))
    finally:
        searcher.close()
