"""A throwaway OpenLDAP server for the tests, the benchmarks and `syncbot demo`.

It is configured the way syncbot expects a production directory to be: password policy
(ppolicy) for locking accounts, the memberof overlay, a service account with `manage`
rights and no size limit. Everything lives under one work directory and runs as the
current user; nothing is installed or changed outside it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import shutil
import signal
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import ldap3
from ldap3.core.exceptions import LDAPException

from localdev.ports import free_port
from syncbot.errors import LocalResourceError

_BINARY_DIRS = (
    Path("/usr/sbin"),
    Path("/usr/bin"),
    Path("/usr/local/sbin"),
    Path("/usr/local/bin"),
)
_SCHEMA_DIR = Path("/etc/ldap/schema")
_MODULE_DIRS = (Path("/usr/lib/ldap"), Path("/usr/lib64/openldap"), Path("/usr/lib/openldap"))
_SCHEMAS = ("core", "cosine", "nis", "inetorgperson")
_MAX_SIZE = 4 * 1024**3  # mdb's 10 MiB default fails at a few thousand entries
_START_TIMEOUT = 15.0
_STOP_TIMEOUT = 15.0
_START_ATTEMPTS = 3
_RESTART_PAUSE = 1.0
#: Above this many entries, `reset()` rebuilds the database offline instead of deleting online.
_RESET_OFFLINE_THRESHOLD = 2_000
#: The default ppolicy entry as built: failed binds are recorded (pwdFailureTime, which
#: needs pwdLockout or pwdMaxFailure) and lock a user after 5 for 15 minutes; no quality rules.
DEFAULT_POLICY: tuple[tuple[str, str], ...] = (
    ("objectClass", "device"),
    ("objectClass", "pwdPolicy"),
    ("cn", "default"),
    ("pwdAttribute", "userPassword"),
    ("pwdLockout", "TRUE"),
    ("pwdMaxFailure", "5"),
    ("pwdLockoutDuration", "900"),
    ("pwdFailureCountInterval", "900"),
    ("pwdInHistory", "0"),
    ("pwdCheckQuality", "0"),
    ("pwdMinLength", "0"),
    ("pwdMustChange", "FALSE"),
    ("pwdAllowUserChange", "TRUE"),
    ("pwdSafeModify", "FALSE"),
)


def find_binary(name: str) -> Path | None:
    """Locate an OpenLDAP program; /usr/sbin is often missing from PATH for non-root users."""
    for folder in _BINARY_DIRS:
        candidate = folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    return Path(found) if found else None


def ssha(password: str) -> str:
    """Hash a password as `{SSHA}`, a scheme every slapd verifies without extra modules."""
    salt = secrets.token_bytes(8)
    # SSHA is what slapd verifies natively; the hash only guards a throwaway test directory.
    digest = hashlib.sha1(password.encode("utf-8") + salt).digest()  # noqa: S324
    return "{SSHA}" + base64.b64encode(digest + salt).decode("ascii")


def _module_dir() -> Path:
    for folder in _MODULE_DIRS:
        if (folder / "back_mdb.so").exists() or (folder / "back_mdb.la").exists():
            return folder
    raise LocalResourceError(
        "OpenLDAP modules (back_mdb) not found in "
        + ", ".join(str(d) for d in _MODULE_DIRS)
        + ": apt-get install slapd"
    )


@dataclass(frozen=True)
class LocalPki:
    """A throwaway certificate authority and one server certificate it signed."""

    ca_certificate: Path
    certificate: Path
    key: Path


def make_test_pki(folder: Path, *, common_name: str = "syncbot test CA") -> LocalPki:
    """Create a CA and a certificate for localhost / 127.0.0.1 with `openssl`, valid 2 days."""
    openssl = find_binary("openssl")
    if openssl is None:
        raise LocalResourceError("openssl not installed: apt-get install openssl")
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = folder / "ca.key", folder / "ca.crt"
    key, request, cert = folder / "server.key", folder / "server.csr", folder / "server.crt"
    extensions = folder / "server.ext"
    extensions.write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n",
        encoding="ascii",
    )
    new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca_usage = ["-addext", "basicConstraints=critical,CA:TRUE"]
    ca_usage += ["-addext", "keyUsage=critical,keyCertSign,cRLSign"]
    make_ca = [*new_key, "-x509", "-days", "2", "-subj", f"/CN={common_name}", *ca_usage]
    _checked(
        [str(openssl), "req", *make_ca, "-keyout", str(ca_key), "-out", str(ca_cert)],
        what="openssl req (CA)",
    )
    make_request = [*new_key, "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(request)]
    _checked([str(openssl), "req", *make_request], what="openssl req (server)")
    sign = ["-req", "-in", str(request), "-CA", str(ca_cert), "-CAkey", str(ca_key)]
    sign += ["-set_serial", str(secrets.randbits(63)), "-days", "2", "-extfile", str(extensions)]
    _checked([str(openssl), "x509", *sign, "-out", str(cert)], what="openssl x509")
    return LocalPki(ca_certificate=ca_cert, certificate=cert, key=key)


def _checked(command: list[str], *, what: str, stdin: bytes | None = None) -> None:
    done = subprocess.run(  # noqa: S603
        command, input=stdin, capture_output=True, check=False, timeout=600
    )
    if done.returncode != 0:
        output = (done.stdout + done.stderr).decode("utf-8", "replace")[-8000:]
        raise RuntimeError(f"{what} failed (exit {done.returncode}):\n{output}")


class SlapdServer:
    """One slapd process with one mdb database, built from scratch in `workdir`."""

    def __init__(
        self,
        workdir: Path,
        *,
        suffix: str = "dc=example,dc=gov,dc=vn",
        port: int = 0,
        nosync: bool = True,
        tls: LocalPki | None = None,
        record_last_bind: bool = True,
    ) -> None:
        """`tls` adds StartTLS on `url` and a second, ldaps:// listener on `ldaps_url`.

        `record_last_bind` turns on slapd's own last-bind recording (`olcLastBind`): every
        successful bind writes `pwdLastSuccess`, which the dormancy duty reads. It costs one
        write per bind; benchmarks of bind throughput may turn it off.
        """
        self.workdir = Path(workdir).absolute()  # slapd's config names files by full path
        self.tls = tls
        self.record_last_bind = record_last_bind
        self.ldaps_port = 0
        self.suffix = suffix
        self._requested_port = port
        self.port = port
        self.nosync = nosync
        self.admin_dn = f"cn=admin,{suffix}"
        self.admin_password = secrets.token_urlsafe(18)
        self.service_dn = f"cn=syncbot,ou=system,{suffix}"
        self.service_password = secrets.token_urlsafe(18)
        self.people_base = f"ou=people,{suffix}"
        self.groups_base = f"ou=groups,{suffix}"
        self.policies_base = f"ou=policies,{suffix}"
        self.default_policy_dn = f"cn=default,{self.policies_base}"
        self._config_dir = self.workdir / "slapd.d"
        self._data_dir = self.workdir / "data"
        self._run_dir = self.workdir / "run"
        self._pid_file = self._run_dir / "slapd.pid"
        self._admin_password_file = self._run_dir / "admin.pw"
        self._log_file = self.workdir / "slapd.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._built = False
        self._started_once = False

    def __repr__(self) -> str:
        return f"SlapdServer(url={self.url!r}, suffix={self.suffix!r}, running={self.running})"

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}/"

    @property
    def ldaps_url(self) -> str:
        if self.tls is None:
            raise RuntimeError("this server was started without TLS")
        return f"ldaps://127.0.0.1:{self.ldaps_port}/"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The running server's process id, as its pid file states it."""
        if not self.running:
            return None
        try:
            return int(self._pid_file.read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Build the configuration on first use, then start slapd and wait until it answers.

        The first start of a server created with port 0 may move to other ports if someone
        takes its pick first. A restart keeps its ports, since clients hold its URL: it tries
        them again for a while and then fails, naming slapd's own explanation.
        """
        slapd = find_binary("slapd")
        if slapd is None:
            raise LocalResourceError("slapd not installed: apt-get install slapd ldap-utils")
        if self.running:
            return
        if not self._built:
            self._build()
        first_start = not self._started_once
        attempts = 1 if first_start and self._requested_port != 0 else _START_ATTEMPTS
        for attempt in range(attempts):
            if first_start:
                if self._requested_port == 0:
                    self.port = free_port()
                if self.tls is not None:
                    self.ldaps_port = free_port()
            elif attempt:
                time.sleep(_RESTART_PAUSE)
            failure = self._launch(slapd)
            if failure is None:
                self._started_once = True
                return
            if not first_start:
                # Shown in the test summary: a restart that needed a second try leaves a trace.
                warnings.warn(f"slapd restart on {self.url}: {failure}", stacklevel=2)
        raise LocalResourceError(
            f"slapd did not start on {self.url}; `slapd -d stats` says:\n{self._diagnose(slapd)}"
        )

    def stop(self) -> None:
        """Stop slapd with SIGINT (its clean shutdown) and wait until the process is gone."""
        process = self._process
        if process is None:
            return
        # slapd runs in the foreground (`-d 0`), so it is our child and the pid file names
        # the same process; signalling through Popen cannot hit a recycled pid.
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            # A shutdown stuck this long would hold the database lock forever; kill our own child.
            process.kill()
            process.wait(timeout=_STOP_TIMEOUT)
        finally:
            self._process = None
            self._pid_file.unlink(missing_ok=True)

    def __enter__(self) -> SlapdServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- content ---------------------------------------------------------------------------

    def add_ldif(self, ldif: str) -> None:
        """Add entries online as the admin, so overlays (memberof, ppolicy) see them."""
        ldapadd = self._require("ldapadd")
        self._run(
            [
                str(ldapadd),
                "-x",
                "-H",
                self.url,
                "-D",
                self.admin_dn,
                "-y",
                str(self._admin_password_file),
            ],
            stdin=ldif.encode("utf-8"),
            what="ldapadd",
        )

    def bulk_load(self, ldif: str) -> None:
        """Load many entries offline with `slapadd -q` (server stopped, then restarted).

        Much faster than `add_ldif`, but overlays do not run: `memberOf` is not filled, so
        write it in the LDIF when a test needs it.
        """
        if not self._built:
            self._build()
        was_running = self.running
        self.stop()
        path = self.workdir / "bulk.ldif"
        path.write_text(ldif, encoding="utf-8")
        try:
            self._slapadd(path, quick=True)
        finally:
            path.unlink(missing_ok=True)
        if was_running:
            self.start()

    def reset(self) -> None:
        """Delete everything below people and groups and put the default policy back as
        built; keep the OUs, the other policies and the service account."""
        with self._admin_connection() as conn:
            # Deepest first; groups before people so memberof has no back-links to update.
            dns = self._subordinates(conn, self.groups_base)
            dns += self._subordinates(conn, self.people_base)
            if len(dns) <= _RESET_OFFLINE_THRESHOLD:
                for dn in dns:
                    if not conn.delete(dn):
                        description = conn.result["description"]
                        raise RuntimeError(f"reset: cannot delete {dn}: {description}")
                self._restore_default_policy(conn)
                return
        self._rebuild_database()

    def restore_default_policy(self) -> None:
        """Put the default ppolicy entry back as built (a test changed or deleted it)."""
        with self._admin_connection() as conn:
            self._restore_default_policy(conn)

    def _restore_default_policy(self, conn: ldap3.Connection) -> None:
        dn = self.default_policy_dn
        if not conn.delete(dn) and conn.result["description"] != "noSuchObject":
            raise RuntimeError(f"cannot delete {dn}: {conn.result['description']}")
        attributes: dict[str, list[str]] = {}
        for name, value in DEFAULT_POLICY:
            attributes.setdefault(name, []).append(value)
        if not conn.add(dn, attributes=attributes):
            raise RuntimeError(f"cannot add {dn}: {conn.result['description']}")

    # -- building --------------------------------------------------------------------------

    def _build(self) -> None:
        for folder in (self.workdir, self._config_dir, self._data_dir, self._run_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self._admin_password_file.write_text(self.admin_password, encoding="utf-8")
        self._admin_password_file.chmod(0o600)
        config = self.workdir / "config.ldif"
        config.write_text(self._config_ldif(), encoding="utf-8")
        config.chmod(0o600)
        slapadd = self._require("slapadd")
        self._run(
            [str(slapadd), "-n0", "-F", str(self._config_dir), "-l", str(config)],
            what="slapadd -n0",
        )
        self._load_base()
        self._built = True

    def _load_base(self) -> None:
        path = self.workdir / "base.ldif"
        path.write_text(self._base_ldif(), encoding="utf-8")
        path.chmod(0o600)
        self._slapadd(path, quick=False)

    def _rebuild_database(self) -> None:
        was_running = self.running
        self.stop()
        for child in self._data_dir.iterdir():
            child.unlink()
        self._load_base()
        if was_running:
            self.start()

    def _slapadd(self, ldif_path: Path, *, quick: bool) -> None:
        slapadd = self._require("slapadd")
        command = [
            str(slapadd),
            "-F",
            str(self._config_dir),
            "-b",
            self.suffix,
            "-l",
            str(ldif_path),
        ]
        if quick:
            command.insert(1, "-q")
        self._run(command, what="slapadd")

    def _config_ldif(self) -> str:
        service = self.service_dn
        lock_state = (
            "pwdAccountLockedTime,pwdFailureTime,pwdHistory,pwdChangedTime,"
            "pwdGraceUseTime,pwdReset,pwdPolicySubentry"
        )
        schema_includes = "\n".join(
            f"include: file://{_SCHEMA_DIR / name}.ldif" for name in _SCHEMAS
        )
        nosync = "olcDbNoSync: TRUE\n" if self.nosync else ""
        # OpenLDAP 2.5 has last-bind recording in the core (a database option writing
        # pwdLastSuccess) and, separately, the contrib lastbind overlay (authTimestamp, with
        # a precision). The core option has no precision in 2.5: it writes on every bind
        # made in a new second, which is what the dormancy tests need to observe.
        last_bind = "olcLastBind: TRUE\n" if self.record_last_bind else ""
        tls = (
            f"olcTLSCertificateFile: {self.tls.certificate}\n"
            f"olcTLSCertificateKeyFile: {self.tls.key}\n"
            if self.tls
            else ""
        )
        return f"""\
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {self._pid_file}
olcArgsFile: {self._run_dir / "slapd.args"}
olcLogLevel: none
{tls}
dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: {_module_dir()}
olcModuleLoad: back_mdb
olcModuleLoad: ppolicy
olcModuleLoad: memberof

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

{schema_includes}

dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend
olcAccess: {{0}}to dn.base="" by * read
olcAccess: {{1}}to dn.base="cn=Subschema" by * read

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {self.suffix}
olcRootDN: {self.admin_dn}
olcRootPW: {ssha(self.admin_password)}
olcDbDirectory: {self._data_dir}
olcDbMaxSize: {_MAX_SIZE}
{nosync}{last_bind}olcDbIndex: objectClass eq
olcDbIndex: uid,cn,mail,employeeNumber eq
olcDbIndex: member,memberOf eq
olcLimits: dn.exact="{service}" size=unlimited time=unlimited
olcAccess: {{0}}to attrs=userPassword by dn.exact="{service}" manage
  by self write by anonymous auth by * none
olcAccess: {{1}}to attrs={lock_state} by dn.exact="{service}" manage by self read by * none
olcAccess: {{2}}to * by dn.exact="{service}" manage by self read by users read by * none

dn: olcOverlay={{0}}memberof,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOfConfig
olcOverlay: {{0}}memberof
olcMemberOfGroupOC: groupOfNames
olcMemberOfMemberAD: member
olcMemberOfMemberOfAD: memberOf
olcMemberOfRefInt: TRUE
olcMemberOfDangling: ignore

dn: olcOverlay={{1}}ppolicy,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {{1}}ppolicy
olcPPolicyDefault: {self.default_policy_dn}
olcPPolicyHashCleartext: TRUE
olcPPolicyUseLockout: FALSE
"""

    def _suffix_entry(self) -> str:
        rdn_type, _, value = self.suffix.split(",", 1)[0].partition("=")
        if rdn_type.strip().lower() == "dc":
            return f"objectClass: dcObject\nobjectClass: organization\ndc: {value}\no: {value}"
        return f"objectClass: organization\no: {value}"

    def _base_ldif(self) -> str:
        service_policy = f"cn=service,{self.policies_base}"
        default_policy = "\n".join(f"{name}: {value}" for name, value in DEFAULT_POLICY)
        return f"""\
dn: {self.suffix}
{self._suffix_entry()}

dn: {self.people_base}
objectClass: organizationalUnit
ou: people

dn: {self.groups_base}
objectClass: organizationalUnit
ou: groups

dn: ou=system,{self.suffix}
objectClass: organizationalUnit
ou: system

dn: {self.policies_base}
objectClass: organizationalUnit
ou: policies

dn: {self.default_policy_dn}
{default_policy}

dn: {service_policy}
objectClass: device
objectClass: pwdPolicy
cn: service
pwdAttribute: userPassword
pwdLockout: FALSE
pwdAllowUserChange: FALSE

dn: {self.service_dn}
objectClass: applicationProcess
objectClass: simpleSecurityObject
cn: syncbot
description: Account syncbot binds as; never locked by failed binds (own policy)
userPassword: {ssha(self.service_password)}
pwdPolicySubentry: {service_policy}
"""

    # -- process handling ------------------------------------------------------------------

    def _launch(self, slapd: Path) -> str | None:
        """Start slapd once; None when it answers, otherwise what went wrong."""
        self._pid_file.unlink(missing_ok=True)
        log = self._log_file.open("ab")
        # `-d 0` keeps slapd in the foreground: it stays our child, so stop() can wait for it.
        self._process = subprocess.Popen(  # noqa: S603
            [str(slapd), "-d", "0", "-h", self._listeners, "-F", str(self._config_dir)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        try:
            if self._wait_until_answering(self._process):
                return None
        except BaseException:
            self.stop()  # never leave an orphaned slapd behind (Ctrl-C, unexpected errors)
            raise
        code = self._process.poll()
        self.stop()
        if code is None:
            return f"no answer within {_START_TIMEOUT:g} s"
        return f"slapd exited with code {code}"

    def _wait_until_answering(self, process: subprocess.Popen[bytes]) -> bool:
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            if self._answers():
                return True
            time.sleep(0.02)
        return False

    @property
    def _listeners(self) -> str:
        return self.url if self.tls is None else f"{self.url} {self.ldaps_url}"

    def _answers(self) -> bool:
        try:
            with self._admin_connection(timeout=1):
                return True
        except (LDAPException, OSError, RuntimeError):
            return False

    def _diagnose(self, slapd: Path) -> str:
        """Re-run slapd in the foreground with `-d stats`: the only way it explains a failure."""
        command = [str(slapd), "-d", "stats", "-h", self._listeners, "-F", str(self._config_dir)]
        try:
            done = subprocess.run(  # noqa: S603
                command, capture_output=True, timeout=5, check=False, stdin=subprocess.DEVNULL
            )
            output = done.stdout + done.stderr
        except subprocess.TimeoutExpired as timeout:
            # It came up this time; report what it printed and do not leave it running.
            output = (timeout.stdout or b"") + (timeout.stderr or b"")
        return output.decode("utf-8", "replace")[-8000:]

    # -- helpers ---------------------------------------------------------------------------

    def _require(self, name: str) -> Path:
        path = find_binary(name)
        if path is None:
            raise LocalResourceError(f"{name} not installed: apt-get install slapd ldap-utils")
        return path

    def _run(self, command: list[str], *, what: str, stdin: bytes | None = None) -> None:
        _checked(command, what=what, stdin=stdin)

    @contextlib.contextmanager
    def _admin_connection(self, timeout: int = 10) -> Iterator[ldap3.Connection]:
        # ldap3 cannot parse a URL with a trailing slash, the form slapd -h and OpenLDAP tools use.
        server = ldap3.Server(
            "127.0.0.1", port=self.port, get_info=ldap3.NONE, connect_timeout=timeout
        )
        conn = ldap3.Connection(
            server,
            self.admin_dn,
            self.admin_password,
            raise_exceptions=False,
            receive_timeout=timeout,
        )
        if not conn.bind():
            description = conn.result.get("description") if conn.result else "no answer"
            raise RuntimeError(f"cannot bind as {self.admin_dn}: {description}")
        try:
            yield conn
        finally:
            conn.unbind()

    @staticmethod
    def _subordinates(conn: ldap3.Connection, base: str) -> list[str]:
        """Every entry strictly below `base`, deepest first."""
        entries = conn.extend.standard.paged_search(
            base,
            "(objectClass=*)",
            search_scope=ldap3.SUBTREE,
            attributes=[],
            paged_size=1000,
            generator=True,
        )
        dns = [str(e["dn"]) for e in entries if e.get("type") == "searchResEntry"]
        below = [dn for dn in dns if dn.lower() != base.lower()]
        return sorted(below, key=lambda dn: dn.count(","), reverse=True)
