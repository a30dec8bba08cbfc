"""A throwaway 389 Directory Server for the tests, benchmarks and demo.

syncbot's `389ds` flavour meets `nsAccountLock`, the `cn=config` password policy,
`passwordExpirationTime` and the account policy plugin's `lastLoginTime` only on a real
server, so the tests start one from Debian's `389-ds-base`.

`dscreate` is the supported way to make an instance, but without systemd it cannot finish:
it writes the configuration (`dse.ldif`, schema, certificate database) and then fails to
start the server. That part is all we use, pointed at folders under the work directory, so
nothing lands in /etc/dirsrv; the server is then started here (`ns-slapd -d 0`, in the
foreground, our child) and the backend, suffix and plugins are configured over LDAP as
`cn=Directory Manager`.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType

import ldap3
from ldap3.core.exceptions import LDAPException
from ldap3.utils.dn import escape_rdn

from localdev.ports import free_port
from localdev.slapd import find_binary, ssha
from syncbot.errors import LocalResourceError

HOST = "127.0.0.1"
ROOT_DN = "cn=Directory Manager"
ACCOUNT_POLICY = "cn=Account Policy Plugin,cn=plugins,cn=config"
_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 20.0
_BACKEND = "userRoot"
#: cn=config's password policy as a fresh test finds it: 389 DS's own defaults.
BASELINE_POLICY: dict[str, str | None] = {
    "passwordCheckSyntax": "off",
    "passwordMinLength": "8",
    "passwordExp": "off",
    "passwordMaxAge": "8640000",
    "passwordHistory": "off",
    "passwordInHistory": "6",
    "passwordMustChange": "off",
    "passwordTrackUpdateTime": "off",
    "passwordMinUppers": "0",
    "passwordMinLowers": "0",
    "passwordMinDigits": "0",
    "passwordMinSpecials": "0",
}


class Ds389Server:
    """One ns-slapd instance with one backend for `suffix`, built from scratch in `workdir`."""

    def __init__(
        self, workdir: Path, *, suffix: str = "dc=example,dc=gov,dc=vn", port: int = 0
    ) -> None:
        self.workdir = Path(workdir)
        self.suffix = suffix
        self.port = port
        self.admin_dn = ROOT_DN
        self.admin_password = secrets.token_urlsafe(18)
        self.name = f"syncbot{secrets.token_hex(3)}"
        self._config_dir = self.workdir / "config"
        self._pid_file = self.workdir / "run" / "ns-slapd.pid"
        self._log_file = self.workdir / "ns-slapd.out"
        self._process: subprocess.Popen[bytes] | None = None
        self._built = False

    def __repr__(self) -> str:
        return f"Ds389Server(url={self.url!r}, suffix={self.suffix!r}, running={self.running})"

    @property
    def url(self) -> str:
        return f"ldap://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def errors_log(self) -> Path:
        return self.workdir / "log" / "errors"

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Build the instance on first use, then start it and wait until it answers."""
        if self.running:
            return
        if not self._built:
            self._build()
            return
        self._launch()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # ns-slapd's clean shutdown
        try:
            process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=_STOP_TIMEOUT)

    def restart(self) -> None:
        self.stop()
        self._launch()

    def __enter__(self) -> Ds389Server:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _build(self) -> None:
        dscreate = _require("dscreate")
        if self.port == 0:
            self.port = free_port()
        self.workdir.mkdir(parents=True, exist_ok=True)
        inf = self.workdir / "instance.inf"
        inf.write_text(self._instance_inf(), encoding="utf-8")
        inf.chmod(0o600)
        done = subprocess.run(  # noqa: S603
            [str(dscreate), "from-file", str(inf)],
            capture_output=True, check=False, timeout=300, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        dse = self._config_dir / "dse.ldif"
        # Expected to fail after writing dse.ldif: it then looks for the instance in
        # /etc/dirsrv and wants systemd to start it. Without dse.ldif it failed for real.
        if not dse.is_file():
            output = (done.stdout + done.stderr).decode("utf-8", "replace")[-4000:]
            raise RuntimeError(f"dscreate did not write {dse} (exit {done.returncode}):\n{output}")
        dse.write_text(self._patched_dse(dse.read_text(encoding="utf-8")), encoding="utf-8")
        (self.workdir / "tmp").mkdir(exist_ok=True)
        self._launch()
        try:
            self._configure_online()
            # The account policy plugin is read at start-up only.
            self.restart()
        except BaseException:
            self.stop()  # never leave a half-built server running
            raise
        self._built = True

    def _instance_inf(self) -> str:
        w = self.workdir
        return f"""\
[general]
config_version = 2
full_machine_name = localhost
systemd = False
start = False
selinux = False
strict_host_checking = False

[slapd]
instance_name = {self.name}
port = {self.port}
secure_port = {free_port()}
self_sign_cert = False
root_dn = {ROOT_DN}
root_password = {self.admin_password}
user = root
group = root
config_dir = {self._config_dir}
cert_dir = {self._config_dir}
schema_dir = {self._config_dir}/schema
db_dir = {w / "db"}
db_home_dir = {w / "db"}
backup_dir = {w / "bak"}
ldif_dir = {w / "ldif"}
lock_dir = {w / "lock" / ("slapd-" + self.name)}
log_dir = {w / "log"}
run_dir = {w / "run"}
tmp_dir = {w / "tmp"}
ldapi = {w / "run/slapd.socket"}
inst_dir = {w / "inst"}
"""

    def _patched_dse(self, text: str) -> str:
        """dscreate wrote a random root password of its own (it meant to change it once
        the server was up), listening on every interface: ours, on loopback only."""
        text = re.sub(
            r"(?m)^nsslapd-rootpw: .*(\n .*)*$",
            f"nsslapd-rootpw: {ssha(self.admin_password)}",
            text,
        )
        return re.sub(
            r"(?m)^nsslapd-port: (\d+)$", rf"nsslapd-port: \1\nnsslapd-listenhost: {HOST}", text
        )

    def _configure_online(self) -> None:
        """The backend and its suffix, the OUs, and last-login recording."""
        backend = f"cn={_BACKEND},cn=ldbm database,cn=plugins,cn=config"
        with self.admin_connection() as conn:
            _add(conn, backend, ["top", "extensibleObject", "nsBackendInstance"],
                 {"cn": _BACKEND, "nsslapd-suffix": self.suffix})  # fmt: skip
            _add(conn, f"cn={escape_rdn(self.suffix)},cn=mapping tree,cn=config",
                 ["top", "extensibleObject", "nsMappingTree"],
                 {"cn": self.suffix, "nsslapd-state": "backend",
                  "nsslapd-backend": _BACKEND})  # fmt: skip
            rdn_type, _, value = self.suffix.split(",", 1)[0].partition("=")
            # As dscreate's sample entries: people change their own password and read
            # the directory; nobody else reads passwords.
            acis = {"aci": [
                '(targetattr="userPassword")(version 3.0; acl "self password"; '
                'allow (write) userdn="ldap:///self";)',
                '(targetattr!="userPassword")(version 3.0; acl "users read"; '
                'allow (read, search, compare) userdn="ldap:///all";)',
            ]}  # fmt: skip
            if rdn_type.strip().lower() == "dc":
                _add(conn, self.suffix, ["top", "domain"], {"dc": value, **acis})
            else:
                _add(conn, self.suffix, ["top", "organization"], {"o": value, **acis})
            # lastLoginTime on every successful bind (the dormancy duty reads it).
            _modify(conn, ACCOUNT_POLICY, {"nsslapd-pluginEnabled": ["on"]})
            _modify(conn, f"cn=config,{ACCOUNT_POLICY}", {
                "alwaysRecordLogin": ["yes"],
                "stateAttrName": ["lastLoginTime"],
                "altStateAttrName": ["createTimestamp"],
            })  # fmt: skip

    def _launch(self) -> None:
        ns_slapd = _require("ns-slapd")
        for folder in ("run", "lock", "tmp"):
            (self.workdir / folder).mkdir(parents=True, exist_ok=True)
        (self.workdir / "lock" / f"slapd-{self.name}").mkdir(exist_ok=True)
        self._pid_file.unlink(missing_ok=True)
        log = self._log_file.open("ab")
        # `-d 0`: stay in the foreground, our child, so stop() waits for exactly it.
        self._process = subprocess.Popen(  # noqa: S603
            [str(ns_slapd), "-D", str(self._config_dir), "-i", str(self._pid_file), "-d", "0"],
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

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        last = "no answer"
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"ns-slapd exited with code {self._process.returncode}:\n{self._log_tail()}"
                )
            try:
                with self.admin_connection(timeout=2):
                    return
            except (LDAPException, OSError, RuntimeError) as error:
                last = str(error)
            time.sleep(0.1)
        raise RuntimeError(
            f"389 DS did not answer on {self.url} within {_START_TIMEOUT:g} s ({last}):\n"
            f"{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        parts = []
        for path in (self._log_file, self.errors_log):
            with contextlib.suppress(OSError):
                parts.append(f"--- {path}\n" + path.read_text("utf-8", "replace")[-3000:])
        return "\n".join(parts) or "(no log)"

    # -- connections and content -----------------------------------------------------------

    @contextlib.contextmanager
    def admin_connection(self, timeout: float = 30) -> Iterator[ldap3.Connection]:
        server = ldap3.Server(HOST, port=self.port, get_info=ldap3.NONE, connect_timeout=timeout)
        conn = ldap3.Connection(
            server,
            self.admin_dn,
            self.admin_password,
            raise_exceptions=False,
            receive_timeout=int(timeout),
        )
        if not conn.bind():
            raise RuntimeError(f"cannot bind as {self.admin_dn}: {conn.result}")
        try:
            yield conn
        finally:
            conn.unbind()

    def bind(self, dn: str, password: str) -> tuple[bool, str]:
        """A user's simple bind: whether it worked, and the server's message."""
        server = ldap3.Server(HOST, port=self.port, get_info=ldap3.NONE)
        conn = ldap3.Connection(server, dn, password, raise_exceptions=False)
        try:
            ok = bool(conn.bind())
            message = str((conn.result or {}).get("message") or "")
        finally:
            conn.unbind()
        return ok, message

    def can_bind(self, dn: str, password: str) -> bool:
        return self.bind(dn, password)[0]

    def new_subtree(self, name: str) -> tuple[str, str, str]:
        """A fresh `ou=name` below the suffix with people and groups; (ou, people, groups)."""
        dn = f"ou={name},{self.suffix}"
        with self.admin_connection() as conn:
            delete_subtree(conn, dn)
            for child, ou in ((dn, name), (f"ou=people,{dn}", "people"),
                              (f"ou=groups,{dn}", "groups")):  # fmt: skip
                _add(conn, child, ["top", "organizationalUnit"], {"ou": ou})
        return dn, f"ou=people,{dn}", f"ou=groups,{dn}"

    def delete_subtree(self, dn: str) -> None:
        with self.admin_connection() as conn:
            delete_subtree(conn, dn)

    def set_policy(self, values: dict[str, str | None]) -> None:
        """Set (None: delete) password policy attributes of cn=config."""
        changes = {
            name: [(ldap3.MODIFY_REPLACE, [value] if value is not None else [])]
            for name, value in values.items()
        }
        with self.admin_connection() as conn:
            _modify_changes(conn, "cn=config", changes)

    def read(self, dn: str, attributes: list[str]) -> dict[str, list[str]]:
        with self.admin_connection() as conn:
            conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=attributes)
            if conn.result["result"] != 0 or not conn.response:
                raise RuntimeError(f"cannot read {dn}: {conn.result}")
            raw = conn.response[0]["raw_attributes"]
        # ldap3 lists an attribute asked for but absent with no values: left out here.
        return {name: [v.decode("utf-8", "replace") for v in vs] for name, vs in raw.items() if vs}

    def add_ldif_entries(self, entries: list[tuple[str, dict[str, list[str]]]]) -> None:
        with self.admin_connection() as conn:
            for dn, attributes in entries:
                classes = attributes.pop("objectClass")
                _add(conn, dn, classes, attributes)


def delete_subtree(conn: ldap3.Connection, dn: str) -> None:
    """Every entry below `dn`, deepest first, then `dn` (389 DS has no tree delete)."""
    entries = conn.extend.standard.paged_search(
        dn, "(objectClass=*)", attributes=["1.1"], paged_size=1000, generator=False
    )
    if conn.result["result"] == 32:
        return
    dns = [str(e["dn"]) for e in entries if e.get("type") == "searchResEntry"]
    for child in sorted(dns, key=lambda d: d.count(","), reverse=True):
        if not conn.delete(child) and conn.result["result"] != 32:
            raise RuntimeError(f"cannot delete {child}: {conn.result}")


def _add(
    conn: ldap3.Connection, dn: str, classes: list[str], attributes: Mapping[str, object]
) -> None:
    if not conn.add(dn, classes, attributes):
        raise RuntimeError(f"cannot add {dn}: {conn.result.get('description')} "
                           f"{conn.result.get('message')}")  # fmt: skip


def _modify(conn: ldap3.Connection, dn: str, values: dict[str, list[str]]) -> None:
    _modify_changes(conn, dn, {k: [(ldap3.MODIFY_REPLACE, v)] for k, v in values.items()})


def _modify_changes(conn: ldap3.Connection, dn: str, changes: Mapping[str, object]) -> None:
    if not conn.modify(dn, changes):
        raise RuntimeError(f"cannot modify {dn}: {conn.result.get('description')} "
                           f"{conn.result.get('message')}")  # fmt: skip


def _require(name: str) -> Path:
    path = find_binary(name)
    if path is None:
        raise LocalResourceError(
            f"{name} not installed: apt-get install --no-install-recommends 389-ds-base"
        )
    return path
