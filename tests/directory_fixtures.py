"""Pytest plugin: a real Samba AD domain controller and a real 389 Directory Server.

Registered in conftest.py's `pytest_plugins`. Each server is started once per run (Samba
provisions a domain in about 5 s and has fixed ports; 389 DS is built with `dscreate` and
configured over LDAP); each test gets a fresh OU or subtree and finds the password policy
as the fixture left it. A server that cannot start fails the tests that need it: they are
never skipped.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from localdev.demo import REPO_MAPPINGS
from localdev.ds389 import BASELINE_POLICY as DS389_BASELINE
from localdev.ds389 import Ds389Server
from localdev.samba_ad import BASELINE_POLICY as AD_BASELINE
from localdev.samba_ad import OrgUnit, SambaAdServer
from localdev.sample import roster_csv
from localdev.sample_directories import (
    ad_table,
    ds389_table,
    seed_389ds,
    seed_ad,
    write_sample_config,
)

TODAY = date.today()
_INSTALL_HINT = (
    "the live directory tests need Debian's samba, samba-ad-dc, samba-ad-provision and "
    "389-ds-base (bash .ci/setup installs them)"
)


def _short_name(test_name: str) -> str:
    """An OU name that says which test made it and is unique in the run."""
    stem = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")[:24].rstrip("-")
    return f"t-{stem}-{secrets.token_hex(2)}"


# -- Active Directory -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def samba_ad(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SambaAdServer]:
    """One domain controller for the run (its ports are fixed: there can only be one)."""
    server = SambaAdServer(tmp_path_factory.mktemp("samba-ad"))
    try:
        server.start()
    except RuntimeError as error:
        raise RuntimeError(f"{error}\n\n{_INSTALL_HINT}") from None
    try:
        server.set_domain_policy(AD_BASELINE)
        yield server
    finally:
        server.stop()


@pytest.fixture
def ad_unit(samba_ad: SambaAdServer, request: pytest.FixtureRequest) -> Iterator[OrgUnit]:
    """A fresh OU with people and groups, the domain policy as the baseline; removed after
    (account names are unique across the whole domain)."""
    samba_ad.set_domain_policy(AD_BASELINE)
    unit = samba_ad.new_ou(_short_name(request.node.name))
    try:
        yield unit
    finally:
        samba_ad.delete_ou(unit)
        samba_ad.set_domain_policy(AD_BASELINE)


@dataclass(frozen=True)
class AdSample:
    """The sample department in one OU of the domain, with its roster and config."""

    server: SambaAdServer
    unit: OrgUnit
    config: Path


def ad_sample_config(server: SambaAdServer, unit: OrgUnit, folder: Path, extra: str = "") -> Path:
    (folder / "nhan-su.csv").write_text(roster_csv(TODAY), encoding="utf-8")
    table = ad_table(server, unit, "ldap-password")
    return write_sample_config(folder, table, server.admin_password, REPO_MAPPINGS, extra)


@pytest.fixture
def ad_sample(samba_ad: SambaAdServer, ad_unit: OrgUnit, tmp_path: Path) -> AdSample:
    seed_ad(samba_ad, ad_unit, TODAY)
    return AdSample(samba_ad, ad_unit, ad_sample_config(samba_ad, ad_unit, tmp_path))


# -- 389 Directory Server -------------------------------------------------------------------


@pytest.fixture(scope="session")
def ds389(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ds389Server]:
    """One 389 DS instance for the run."""
    server = Ds389Server(tmp_path_factory.mktemp("ds389"))
    try:
        server.start()
    except RuntimeError as error:
        raise RuntimeError(f"{error}\n\n{_INSTALL_HINT}") from None
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class DsSubtree:
    dn: str
    people_base: str
    groups_base: str


@pytest.fixture
def ds389_subtree(ds389: Ds389Server, request: pytest.FixtureRequest) -> Iterator[DsSubtree]:
    """A fresh `ou=` with people and groups, cn=config's policy as 389 DS ships it."""
    if not ds389.running:  # a test may have stopped it
        ds389.start()
    ds389.set_policy(DS389_BASELINE)
    subtree = DsSubtree(*ds389.new_subtree(_short_name(request.node.name)))
    try:
        yield subtree
    finally:
        ds389.delete_subtree(subtree.dn)
        ds389.set_policy(DS389_BASELINE)


@dataclass(frozen=True)
class DsSample:
    server: Ds389Server
    subtree: DsSubtree
    config: Path


def ds389_sample_config(
    server: Ds389Server, subtree: DsSubtree, folder: Path, extra: str = ""
) -> Path:
    (folder / "nhan-su.csv").write_text(roster_csv(TODAY), encoding="utf-8")
    table = ds389_table(server, subtree.people_base, subtree.groups_base, "ldap-password")
    return write_sample_config(folder, table, server.admin_password, REPO_MAPPINGS, extra)


@pytest.fixture
def ds389_sample(ds389: Ds389Server, ds389_subtree: DsSubtree, tmp_path: Path) -> DsSample:
    seed_389ds(ds389, ds389_subtree.people_base, ds389_subtree.groups_base, TODAY)
    return DsSample(ds389, ds389_subtree, ds389_sample_config(ds389, ds389_subtree, tmp_path))
