"""A throwaway Active Directory domain controller (Samba 4) for the tests, benchmarks and demo.

syncbot's `ad` flavour meets AD's own behaviour only on a real DC: ranged member lists,
paged reads, `userAccountControl`, `pwdLastSet = 0`, the domain password policy enforced
on every password set. Samba provisions a domain in a few seconds from Debian's packages
(`samba samba-ad-dc samba-ad-provision`), so the tests start one rather than mock it.

Samba's LDAP server listens on the fixed ports 389 and 636 (and its KDC on 88): one domain
controller per machine at a time, shared by the tests of a run, each test working in an OU
of its own. A simple bind needs an encrypted connection, so everything here goes over
LDAPS with a certificate from a throwaway CA made at provisioning (Samba's own
self-signed one names the host, not 127.0.0.1).
"""

from __future__ import annotations

import contextlib
import re
import secrets
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import ldap3
from ldap3.core.exceptions import LDAPException

from localdev.slapd import LocalPki, find_binary, make_test_pki
from syncbot.errors import LocalResourceError

REALM = "SO.EXAMPLE.VN"
NETBIOS_DOMAIN = "SO"
HOST = "127.0.0.1"
LDAPS_PORT = 636
#: The ports Samba's AD services take; none can be moved.
FIXED_PORTS = (389, 636, 88)
_SERVICES = "ldap, cldap, kdc, rpc, drepl, kcc"  # no smbd (s3fs): it fails in a sandbox
_START_TIMEOUT = 60.0
_STOP_TIMEOUT = 20.0
#: ACCOUNTDISABLE; NORMAL_ACCOUNT; PASSWD_NOTREQD.
UF_ACCOUNTDISABLE = 0x2
UF_NORMAL_ACCOUNT = 0x200
UF_PASSWD_NOTREQD = 0x20
#: The tree-delete control: removes an OU with everything below it in one request.
_TREE_DELETE = ("1.2.840.113556.1.4.805", True, None)
#: What a fresh test starts from: no complexity (the sample's passwords contain name
#: fragments AD's complexity rule refuses), AD's own length, age and history defaults.
BASELINE_POLICY: dict[str, str] = {
    "minPwdLength": "7",
    "pwdProperties": "0",
    "pwdHistoryLength": "0",
    "maxPwdAge": str(-42 * 86_400 * 10_000_000),
    "minPwdAge": "0",
}
#: AD's bind refusal says why in the `data` field of its message.
BIND_DATA = {
    "52e": "invalid credentials",
    "533": "account disabled",
    "532": "password expired",
    "773": "password must be changed",
    "775": "account locked out",
}
_DATA = re.compile(r"\bdata ([0-9a-f]{3})\b")


def encoded_password(password: str) -> bytes:
    """`unicodePwd` as AD wants it: the password in double quotes, UTF-16LE."""
    return f'"{password}"'.encode("utf-16-le")


@dataclass(frozen=True)
class OrgUnit:
    """One test's (or the demo's) part of the domain: an OU with people and groups below."""

    dn: str
    people_base: str
    groups_base: str


@dataclass(frozen=True)
class BindResult:
    """A user's simple bind: whether it worked and, if not, AD's reason code."""

    ok: bool
    data: str | None  # 52e, 533, 773, ... (see BIND_DATA)
    message: str


class SambaAdServer:
    """A Samba AD DC provisioned into `workdir` and run in the foreground as our child."""

    def __init__(self, workdir: Path, *, realm: str = REALM, domain: str = NETBIOS_DOMAIN) -> None:
        self.workdir = Path(workdir)
        self.realm = realm.upper()
        self.domain = domain
        self.base_dn = ",".join(f"DC={part}" for part in realm.lower().split("."))
        # AD complexity: upper, lower, digit and a symbol, whatever the token gives.
        self.admin_password = f"Ad1!{secrets.token_urlsafe(15)}"
        self.admin_bind = f"Administrator@{realm.lower()}"
        self.admin_dn = f"CN=Administrator,CN=Users,{self.base_dn}"
        self._target = self.workdir / "domain"
        self._smb_conf = self._target / "etc" / "smb.conf"
        self._log_file = self.workdir / "samba.log"
        self.pki: LocalPki | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"SambaAdServer(url={self.url!r}, base_dn={self.base_dn!r}, running={self.running})"

    @property
    def url(self) -> str:
        return f"ldaps://{HOST}:{LDAPS_PORT}"

    @property
    def ca_file(self) -> Path:
        if self.pki is None:
            raise RuntimeError("the domain has not been provisioned yet")
        return self.pki.ca_certificate

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Provision on first use, start `samba` and wait until LDAPS answers a bind."""
        if self.running:
            return
        samba = _require("samba")
        if self.pki is None:
            self._provision()
        busy = [port for port in FIXED_PORTS if _listening(port)]
        if busy:
            raise LocalResourceError(
                f"cannot start Samba AD: {HOST} ports {busy} are already taken (another "
                "samba or LDAP server?); Samba's ports cannot be moved"
            )
        log = self._log_file.open("ab")
        self._process = subprocess.Popen(  # noqa: S603
            [str(samba), "-i", "-s", str(self._smb_conf), "-M", "single", "--debuglevel=1"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        try:
            self._wait_until_answering()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM to our own child, then wait; kill it if it does not go."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=_STOP_TIMEOUT)

    def __enter__(self) -> SambaAdServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _provision(self) -> None:
        samba_tool = _require("samba-tool")
        self.workdir.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(  # noqa: S603
            [
                str(samba_tool), "domain", "provision",
                f"--targetdir={self._target}", f"--realm={self.realm}",
                f"--domain={self.domain}", "--server-role=dc", "--dns-backend=NONE",
                f"--adminpass={self.admin_password}", "--use-rfc2307",
            ],
            capture_output=True, check=False, timeout=300, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode("utf-8", "replace")[-4000:]
            hint = ""
            if "not found" in output and "schema" in output.lower():
                hint = "\n(the AD schema files come with: apt-get install samba-ad-provision)"
            raise RuntimeError(f"samba-tool domain provision failed:\n{output}{hint}")
        self.pki = make_test_pki(self.workdir / "pki", common_name="syncbot test AD CA")
        self._smb_conf.write_text(self._patched_config(), encoding="utf-8")

    def _patched_config(self) -> str:
        """The provisioned smb.conf, changed to serve loopback only, without smbd, with
        the throwaway CA's certificate and logs in the work directory."""
        assert self.pki is not None
        text = self._smb_conf.read_text(encoding="utf-8")
        text = re.sub(r"(?m)^\s*server services = .*$", f"\tserver services = {_SERVICES}", text)
        text = re.sub(r"(?m)^\s*log file = .*$", f"\tlog file = {self.workdir}/log.%m", text)
        extra = (
            # Loopback only. "lo" must be named: an address alone that is not an
            # interface's own leaves samba with "no network interfaces found".
            "\tinterfaces = lo 127.0.0.1\n"
            "\tbind interfaces only = yes\n"
            "\ttls enabled = yes\n"
            f"\ttls keyfile = {self.pki.key}\n"
            f"\ttls certfile = {self.pki.certificate}\n"
            f"\ttls cafile = {self.pki.ca_certificate}\n"
        )
        return text.replace("[global]\n", "[global]\n" + extra, 1)

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        last = "no answer"
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"samba exited with code {self._process.returncode}:\n{self._log_tail()}"
                )
            try:
                with self.admin_connection(timeout=2):
                    return
            except (LDAPException, OSError, RuntimeError) as error:
                last = str(error)
            time.sleep(0.25)
        raise RuntimeError(
            f"Samba AD did not answer on {self.url} within {_START_TIMEOUT:g} s ({last}):\n"
            f"{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        try:
            return self._log_file.read_text("utf-8", "replace")[-4000:]
        except OSError:
            return "(no log)"

    # -- connections -----------------------------------------------------------------------

    def tls(self) -> ldap3.Tls:
        return ldap3.Tls(
            validate=ssl.CERT_REQUIRED,
            ca_certs_file=str(self.ca_file),
            version=ssl.PROTOCOL_TLS_CLIENT,
        )

    def _server(self, timeout: float = 10) -> ldap3.Server:
        return ldap3.Server(
            HOST,
            port=LDAPS_PORT,
            use_ssl=True,
            tls=self.tls(),
            get_info=ldap3.NONE,
            connect_timeout=timeout,
        )

    @contextlib.contextmanager
    def admin_connection(self, timeout: float = 30) -> Iterator[ldap3.Connection]:
        conn = ldap3.Connection(
            self._server(timeout),
            self.admin_bind,
            self.admin_password,
            raise_exceptions=False,
            receive_timeout=int(timeout),
        )
        if not conn.bind():
            raise RuntimeError(f"cannot bind as {self.admin_bind}: {conn.result}")
        try:
            yield conn
        finally:
            conn.unbind()

    def bind(self, dn: str, password: str) -> BindResult:
        """Bind as a user, the way a mail client or a workstation would."""
        conn = ldap3.Connection(self._server(), dn, password, raise_exceptions=False)
        try:
            ok = bool(conn.bind())
            message = str((conn.result or {}).get("message") or "")
        finally:
            conn.unbind()
        found = _DATA.search(message)
        return BindResult(ok, found.group(1) if found else None, message)

    def can_bind(self, dn: str, password: str) -> bool:
        return self.bind(dn, password).ok

    # -- content ---------------------------------------------------------------------------

    def new_ou(self, name: str) -> OrgUnit:
        """A fresh OU with `people` and `groups` below it (an old one of that name goes)."""
        dn = f"OU={name},{self.base_dn}"
        with self.admin_connection() as conn:
            _delete_tree(conn, dn)
            for child in (dn, f"OU=people,{dn}", f"OU=groups,{dn}"):
                _checked_add(conn, child, ["top", "organizationalUnit"], {})
        return OrgUnit(dn, f"OU=people,{dn}", f"OU=groups,{dn}")

    def delete_ou(self, unit: OrgUnit) -> None:
        """Remove the OU and everything in it, freeing its account names for the next test
        (sAMAccountName is unique in the whole domain)."""
        # A tree delete of thousands of accounts is one request: on a busy machine it took
        # longer than the usual 30 s deadline.
        with self.admin_connection(timeout=600) as conn:
            _delete_tree(conn, unit.dn)

    def set_domain_policy(self, values: dict[str, str]) -> None:
        with self.admin_connection() as conn:
            changes = {name: [(ldap3.MODIFY_REPLACE, [value])] for name, value in values.items()}
            if not conn.modify(self.base_dn, changes):
                raise RuntimeError(f"cannot set the domain policy: {conn.result}")

    def domain_policy(self, names: tuple[str, ...]) -> dict[str, str]:
        with self.admin_connection() as conn:
            conn.search(self.base_dn, "(objectClass=*)", ldap3.BASE, attributes=list(names))
            found = conn.response[0]["raw_attributes"]
        return {name: found[name][0].decode() for name in names if found.get(name)}

    def read(self, dn: str, attributes: list[str]) -> dict[str, list[str]]:
        """Attribute values of one entry as text (empty lists for absent ones)."""
        with self.admin_connection() as conn:
            conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=attributes)
            if conn.result["result"] != 0 or not conn.response:
                raise RuntimeError(f"cannot read {dn}: {conn.result}")
            raw = conn.response[0]["raw_attributes"]
        # ldap3 lists an attribute asked for but absent with no values: left out here.
        return {name: [v.decode("utf-8", "replace") for v in vs] for name, vs in raw.items() if vs}


def user_attributes(
    sam: str,
    full_name: str,
    *,
    password: str | None,
    mail: str | None = None,
    employee_number: str | None = None,
    disabled: bool = False,
) -> dict[str, object]:
    """An AD user entry's attributes; without a password the account needs none to exist."""
    control = UF_NORMAL_ACCOUNT | (UF_ACCOUNTDISABLE if disabled else 0)
    attributes: dict[str, object] = {
        "sAMAccountName": sam,
        "displayName": full_name,
        "sn": full_name.split()[-1],
        "givenName": full_name.split()[0],
    }
    if password is None:
        control |= UF_PASSWD_NOTREQD
    else:
        attributes["unicodePwd"] = encoded_password(password)
    attributes["userAccountControl"] = str(control)
    if mail:
        attributes["mail"] = mail
    if employee_number:
        attributes["employeeNumber"] = employee_number
    return attributes


USER_CLASSES = ["top", "person", "organizationalPerson", "user"]
GROUP_CLASSES = ["top", "group"]


def add_user(conn: ldap3.Connection, dn: str, attributes: dict[str, object]) -> None:
    _checked_add(conn, dn, USER_CLASSES, attributes)


def add_group(conn: ldap3.Connection, dn: str, name: str, members: list[str]) -> None:
    """A global security group; members are added 1,000 a request (large groups)."""
    _checked_add(conn, dn, GROUP_CLASSES, {"sAMAccountName": name})
    for start in range(0, len(members), 1000):
        chunk = members[start : start + 1000]
        if not conn.modify(dn, {"member": [(ldap3.MODIFY_ADD, chunk)]}):
            raise RuntimeError(f"cannot add members to {dn}: {conn.result}")


def _checked_add(
    conn: ldap3.Connection, dn: str, classes: list[str], attributes: dict[str, object]
) -> None:
    if not conn.add(dn, classes, attributes):
        result = dict(conn.result)
        raise RuntimeError(f"cannot add {dn}: {result.get('description')} {result.get('message')}")


def _delete_tree(conn: ldap3.Connection, dn: str) -> None:
    conn.delete(dn, controls=[_TREE_DELETE])
    if conn.result["result"] not in (0, 32):  # deleted, or was not there
        raise RuntimeError(f"cannot delete {dn}: {conn.result}")


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def _require(name: str) -> Path:
    path = find_binary(name)
    if path is None:
        raise LocalResourceError(
            f"{name} not installed: apt-get install --no-install-recommends "
            "samba samba-ad-dc samba-ad-provision"
        )
    return path
