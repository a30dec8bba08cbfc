"""A throwaway Keycloak server for the tests, the benchmarks and the demo.

`KeycloakServer` runs `kc.sh start --optimized` from the distribution `.ci/install-keycloak`
unpacks and builds (`KEYCLOAK_VERSION` below is the one pin both read). The build happens
once, at install, because `start-dev` rebuilds inside the distribution: a start that failed
or was killed half-way left it unusable for every later start. Now nothing a server start
does writes there, and a start first checks the install is whole (`install_problem`).
Everything the server writes at run time (H2 database, transaction log, temporary files,
log) stays in its work directory, made absolute (Quarkus cannot use a relative temporary
folder), so parallel test runs never share a database. With `SYNCBOT_KEYCLOAK_URL` set, it
attaches to that server instead (admin from `SYNCBOT_KEYCLOAK_ADMIN` and
`SYNCBOT_KEYCLOAK_ADMIN_PASSWORD`).

`RealmHandle` builds a realm shaped like a production one syncbot manages: an
`employeeNumber` attribute declared in the user profile (Keycloak 24+ silently drops
undeclared attributes), the four roles as realm roles, as client roles of the document
system `qoffice` and as groups, a public `test-login` client for password grants, and a
confidential `syncbot` client whose service account holds only these realm-management roles:

- `manage-users`: change the enabled flag, log users out, delete consents (which revokes
  their offline tokens), map roles to users, add users to groups or remove them. Whoever
  may manage users may also list and read them with their role mappings, groups,
  sessions and consents, so `view-users`, `query-users` and `query-groups` add nothing.
  Keycloak still refuses it admin (realm-management) roles: it cannot raise its rights.
- `view-realm`: look up realm roles by name, which mapping them requires.
- `view-clients`: find `qoffice` by its clientId and see its roles; without it, client
  roles can be neither read nor mapped, and `query-clients` alone lists no client at all.
  It also lets the account read the realm's client secrets; a production realm that must
  avoid that can grant role mapping on `qoffice` alone through fine-grained admin
  permissions.
- `view-events`: read the stored LOGIN and LOGIN_ERROR events (last sign-in, failed
  sign-ins) and the event settings.
- `manage-realm`: set the realm's password policy (the `[password_policy]` rules).
- `manage-events`: turn event storage on and set how long events are kept.

Nothing else: the account cannot create realms or clients, nor change a client.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import secrets
import signal
import subprocess
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from keycloak import KeycloakAdmin, KeycloakOpenID

from localdev.ports import free_port
from syncbot.errors import LocalResourceError

#: The one pin of the Keycloak release; `.ci/install-keycloak` reads this line.
KEYCLOAK_VERSION = "26.7.3"
#: Keycloak 26.6+ refuses older Java.
MIN_JAVA = 21

ROLE_NAMES = ("van-thu", "chuyen-vien", "lanh-dao", "quan-tri")
ROLE_TITLES = {
    "van-thu": "Văn thư",
    "chuyen-vien": "Chuyên viên",
    "lanh-dao": "Lãnh đạo",
    "quan-tri": "Quản trị",
}
#: A unit group with a Vietnamese name, to prove names survive the admin API in UTF-8.
UNIT_GROUP = "Phòng Tài chính"
DOCUMENT_CLIENT = "qoffice"
LOGIN_CLIENT = "test-login"
SYNCBOT_CLIENT = "syncbot"
SERVICE_ACCOUNT_ROLES = (
    "manage-users",
    "view-realm",
    "view-clients",
    "view-events",
    "manage-realm",
    "manage-events",
)
EMPLOYEE_NUMBER = "employeeNumber"

_REPO_ROOT = Path(__file__).resolve().parents[1]
_JVM_DIR = Path("/usr/lib/jvm")
_INSTALL_HINT = "run `bash .ci/install-keycloak`"
#: What `.ci/install-keycloak` writes after a successful build: the build options, then
#: `sha256sum` lines for the files the build produced.
BUILT_MARKER = ".syncbot-built"
_DEFAULT_HEAP = "-Xms256m -Xmx768m"
_STOP_GRACE = 30.0
_LOG_TAIL_LINES = 60
_HTTP_TIMEOUT = 300  # a partial import of thousands of users is one long request
_PORT_TAKEN = re.compile(r"Address already in use|Port already bound|BindException")
#: The child's environment must not inherit a developer's Keycloak or JVM settings.
_DROPPED_ENV = re.compile(r"^(KC_|KEYCLOAK_|QUARKUS_|JAVA$|JAVA_OPTS$|JAVA_HOME$)")


def default_home(version: str = KEYCLOAK_VERSION) -> Path:
    """Where `.ci/install-keycloak` unpacks the distribution, or `$SYNCBOT_KEYCLOAK_HOME`."""
    override = os.environ.get("SYNCBOT_KEYCLOAK_HOME")
    if override:
        return Path(override).absolute()
    return _REPO_ROOT / ".cache" / "keycloak" / f"keycloak-{version}"


def install_problem(home: Path) -> str | None:
    """Why the distribution at `home` cannot be started, or None when it is whole and built.

    The same check as `install_problem` in `.ci/install-keycloak`, less the build options,
    which only that script knows: it replaces an install built for others.
    """
    if not (home / "bin" / "kc.sh").is_file():
        return "it is not installed"
    try:
        lines = (home / BUILT_MARKER).read_text(encoding="utf-8").splitlines()
    except OSError:
        return f"it was not built by the install script (no {BUILT_MARKER})"
    for line in lines[1:]:
        expected, _, name = line.partition("  ")
        try:
            actual = hashlib.sha256((home / name).read_bytes()).hexdigest()
        except OSError:
            return f"{name} is missing"
        if actual != expected:
            return f"{name} differs from what the build wrote"
    return None


def java_major(java_home: Path) -> int:
    """The major version of `java_home/bin/java` ("17.0.15" is 17, "1.8.0_412" is 8), 0 if none."""
    java = java_home / "bin" / "java"
    if not java.is_file():
        return 0
    try:
        done = subprocess.run(  # noqa: S603
            [str(java), "-version"], capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return 0
    match = re.search(r'version "(?:1\.)?(\d+)', done.stderr.decode("utf-8", "replace"))
    return int(match.group(1)) if match else 0


def find_java_home() -> Path:
    """A JDK Keycloak runs on: `$KEYCLOAK_JAVA_HOME`, `$JAVA_HOME`, the newest in /usr/lib/jvm.

    Debian's default Java is often too old, so the default `java` is not enough.
    """
    explicit = os.environ.get("KEYCLOAK_JAVA_HOME")
    if explicit:
        if java_major(Path(explicit)) < MIN_JAVA:
            raise LocalResourceError(
                f"KEYCLOAK_JAVA_HOME={explicit} is not a Java {MIN_JAVA}+ JDK: point it at one"
            )
        return Path(explicit)
    java_home = os.environ.get("JAVA_HOME")
    if java_home and java_major(Path(java_home)) >= MIN_JAVA:
        return Path(java_home)
    candidates = [] if not _JVM_DIR.is_dir() else sorted(_JVM_DIR.iterdir())
    found = [(java_major(home), home) for home in candidates if not home.is_symlink()]
    suitable = [(major, home) for major, home in found if major >= MIN_JAVA]
    if not suitable:
        raise LocalResourceError(
            f"no Java {MIN_JAVA}+ found (looked at KEYCLOAK_JAVA_HOME, JAVA_HOME, {_JVM_DIR}/*): "
            "install one, e.g. apt-get install openjdk-21-jdk-headless, or set KEYCLOAK_JAVA_HOME"
        )
    return max(suitable)[1]


class KeycloakServer:
    """One Keycloak with an H2 file database on loopback ports, or a running one to attach to."""

    def __init__(
        self,
        workdir: Path,
        *,
        home: Path | None = None,
        port: int = 0,
        management_port: int = 0,
    ) -> None:
        """Ports 0 pick free ones at start; `home` defaults to `default_home()`.

        The bootstrap admin's password is random per instance and Keycloak creates that
        admin only in an empty database: give each instance a workdir of its own.
        """
        self.workdir = Path(workdir).absolute()
        self.home = Path(home).absolute() if home is not None else default_home()
        self._requested_ports = (port, management_port)
        self.port = port
        self.management_port = management_port
        self.log_file = self.workdir / "keycloak.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0
        self._external_url = os.environ.get("SYNCBOT_KEYCLOAK_URL", "").rstrip("/")
        if self._external_url:
            self.admin_username = os.environ.get("SYNCBOT_KEYCLOAK_ADMIN", "")
            self.admin_password = os.environ.get("SYNCBOT_KEYCLOAK_ADMIN_PASSWORD", "")
        else:
            self.admin_username = "admin"
            self.admin_password = secrets.token_urlsafe(18)

    def __repr__(self) -> str:
        return f"KeycloakServer(url={self.url!r}, attached={self.attached}, running={self.running})"

    @property
    def attached(self) -> bool:
        """True when this object only talks to a server started by someone else."""
        return bool(self._external_url)

    @property
    def url(self) -> str:
        return self._external_url or f"http://127.0.0.1:{self.port}"

    @property
    def management_url(self) -> str:
        if self.attached:
            raise RuntimeError("an attached server's management interface is not known")
        return f"http://127.0.0.1:{self.management_port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process is not None else None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, timeout: float = 180) -> None:
        """Start Keycloak and wait until it is ready, or check that the attached one answers.

        Raises `LocalResourceError` when the install is missing or broken, Java is missing, or
        Keycloak does not come up (then with the last lines of its log).
        """
        if self.attached:
            self._check_attached(timeout)
            return
        if self.running:
            return
        problem = install_problem(self.home)
        if problem is not None:
            raise LocalResourceError(
                f"Keycloak {KEYCLOAK_VERSION} at {self.home} cannot start: {problem}; "
                f"{_INSTALL_HINT}"
            )
        kc_sh = self.home / "bin" / "kc.sh"
        java_home = find_java_home()
        self.workdir.mkdir(parents=True, exist_ok=True)
        # A free port may be taken by someone else before Keycloak binds it: try again.
        attempts = 3 if 0 in self._requested_ports else 1
        for attempt in range(attempts):
            self._pick_ports(fresh=attempt > 0)
            if self._launch(kc_sh, java_home, timeout):
                return
            port_taken = bool(_PORT_TAKEN.search(self._log_since_launch()))
            if not port_taken:
                break
        reason = (
            f"a port it was given ({self.port} or {self.management_port}) is in use"
            if port_taken
            else f"it did not become ready on {self.url} within {timeout:.0f} s"
        )
        raise LocalResourceError(
            f"Keycloak did not start: {reason}; see {self.log_file}. Its last lines:\n"
            f"{self.log_tail()}"
        )

    def stop(self) -> None:
        """SIGTERM the server's process group, then SIGKILL it after a grace period."""
        process = self._process
        if process is None:
            return
        try:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=_STOP_GRACE)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout=_STOP_GRACE)
        finally:
            self._process = None

    def __enter__(self) -> KeycloakServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last lines of the server's console output, for error messages."""
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _log_since_launch(self) -> str:
        try:
            with self.log_file.open("rb") as log:
                log.seek(self._log_offset)
                return log.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # -- clients ---------------------------------------------------------------------------

    def admin(self) -> KeycloakAdmin:
        """An admin client on the master realm, logged in as the bootstrap admin."""
        return self._admin_for("master")

    def create_realm(self, name: str) -> RealmHandle:
        """Create realm `name` with everything syncbot needs (see the module docstring)."""
        return RealmHandle.create(self.url, name, self._admin_for(name))

    def _admin_for(self, realm: str) -> KeycloakAdmin:
        return KeycloakAdmin(
            server_url=self.url,
            username=self.admin_username,
            password=self.admin_password,
            realm_name=realm,
            user_realm_name="master",
            client_id="admin-cli",
            timeout=_HTTP_TIMEOUT,
        )

    # -- process handling ------------------------------------------------------------------

    def _pick_ports(self, *, fresh: bool) -> None:
        port, management_port = self._requested_ports
        if port == 0 and (fresh or self.port == 0):
            self.port = free_port()
        if management_port == 0 and (fresh or self.management_port in (0, self.port)):
            self.management_port = free_port()
            while self.management_port == self.port:
                self.management_port = free_port()

    def _launch(self, kc_sh: Path, java_home: Path, timeout: float) -> bool:
        with self.log_file.open("ab") as log:
            self._log_offset = log.tell()
            self._process = subprocess.Popen(  # noqa: S603
                [str(kc_sh), *self._arguments()],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._child_environment(java_home),
                cwd=self.workdir,
                start_new_session=True,  # its own process group, so stop() reaches java too
            )
        try:
            if self._wait_until_ready(self._process, timeout):
                return True
        except BaseException:
            self.stop()  # never leave an orphaned JVM behind (Ctrl-C, unexpected errors)
            raise
        self.stop()
        return False

    def _arguments(self) -> list[str]:
        runtime = self.workdir / "runtime"
        # Run-time options only: the build options were fixed by the install (see above).
        return [
            "start",
            "--optimized",
            "--http-enabled=true",
            "--hostname-strict=false",
            "--http-host=127.0.0.1",
            f"--http-port={self.port}",
            f"--http-management-port={self.management_port}",
            # The dev-file H2 database lands in <kc.db-url-path>/data/h2.
            f"-Dkc.db-url-path={self.workdir}",
            f"-Dquarkus.transaction-manager.object-store.directory={runtime / 'transactions'}",
            f"-Djava.io.tmpdir={runtime / 'tmp'}",
            f"-Dvertx.cacheDirBase={runtime / 'vertx-cache'}",
        ]

    def _child_environment(self, java_home: Path) -> dict[str, str]:
        environment = {k: v for k, v in os.environ.items() if not _DROPPED_ENV.match(k)}
        (self.workdir / "runtime" / "tmp").mkdir(parents=True, exist_ok=True)
        environment.update(
            JAVA_HOME=str(java_home),
            JAVA_OPTS_KC_HEAP=os.environ.get("JAVA_OPTS_KC_HEAP", _DEFAULT_HEAP),
            KC_BOOTSTRAP_ADMIN_USERNAME=self.admin_username,
            KC_BOOTSTRAP_ADMIN_PASSWORD=self.admin_password,
        )
        return environment

    def _wait_until_ready(self, process: subprocess.Popen[bytes], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        ready_url = f"{self.management_url}/health/ready"
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            if _is_up(ready_url) and process.poll() is None:
                return True
            time.sleep(0.5)
        return False

    def _check_attached(self, timeout: float) -> None:
        if not (self.admin_username and self.admin_password):
            raise RuntimeError(
                "SYNCBOT_KEYCLOAK_URL is set: SYNCBOT_KEYCLOAK_ADMIN and "
                "SYNCBOT_KEYCLOAK_ADMIN_PASSWORD must name its master-realm admin"
            )
        deadline = time.monotonic() + timeout
        realm_url = f"{self.url}/realms/master"
        while not _answers(realm_url):
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"the Keycloak at SYNCBOT_KEYCLOAK_URL={self.url} does not answer"
                )
            time.sleep(1)
        try:
            self.admin().get_realm("master")
        except Exception as error:  # whatever the cause, this server cannot be used
            code = getattr(error, "response_code", None)
            raise RuntimeError(
                f"cannot use the admin SYNCBOT_KEYCLOAK_ADMIN={self.admin_username!r} "
                f"on {self.url}: {type(error).__name__} (HTTP {code})"
            ) from None


class RealmHandle:
    """One realm of a test Keycloak, with helpers to fill it and to act as its users."""

    def __init__(self, server_url: str, name: str, admin: KeycloakAdmin) -> None:
        """Wrap an existing realm; `admin` must be an admin client bound to it."""
        self.server_url = server_url
        self.name = name
        self.admin = admin
        self.client_id = SYNCBOT_CLIENT
        self.client_secret = ""
        self.ldap_component_id: str | None = None

    def __repr__(self) -> str:
        return f"RealmHandle(name={self.name!r}, server_url={self.server_url!r})"

    @classmethod
    def create(cls, server_url: str, name: str, admin: KeycloakAdmin) -> RealmHandle:
        """Create and configure realm `name`; it is deleted again if configuring fails."""
        admin.create_realm({"realm": name, "enabled": True, "displayName": f"syncbot {name}"})
        handle = cls(server_url, name, admin)
        try:
            handle._declare_employee_number()
            handle._add_roles_and_groups()
            handle._add_login_client()
            handle._add_syncbot_client()
        except BaseException:
            with contextlib.suppress(Exception):  # the first error is the one to report
                handle.delete()
            raise
        return handle

    # -- ids -------------------------------------------------------------------------------

    @property
    def realm_id(self) -> str:
        return str(self.admin.get_realm(self.name)["id"])

    def client_uuid(self, client_id: str) -> str:
        """Keycloak's internal id of a client, which the admin API wants for its roles."""
        uuid = self.admin.get_client_id(client_id)
        if uuid is None:
            raise LookupError(f"no client {client_id!r} in realm {self.name!r}")
        return str(uuid)

    def group_id(self, name: str) -> str:
        for group in self.admin.get_groups({"search": name, "exact": True}):
            if group["name"] == name:
                return str(group["id"])
        raise LookupError(f"no group {name!r} in realm {self.name!r}")

    # -- users -----------------------------------------------------------------------------

    def add_user(
        self,
        username: str,
        *,
        email: str | None = None,
        employee_number: str | None = None,
        password: str | None = None,
        first_name: str = "",
        last_name: str = "",
        enabled: bool = True,
        realm_roles: Sequence[str] = (),
        client_roles: Sequence[str] = (),
        groups: Sequence[str] = (),
    ) -> str:
        """Create a user with roles (client roles of `qoffice`) and groups; returns its id.

        Keycloak's default user profile wants an email, a first and a last name: without
        them the password grant answers "Account is not fully set up".
        """
        representation = _user_representation(
            username, email, employee_number, first_name, last_name, enabled
        )
        if password is not None:
            representation["credentials"] = [
                {"type": "password", "value": password, "temporary": False}
            ]
        user_id = str(self.admin.create_user(representation))
        if realm_roles:
            roles = [self.admin.get_realm_role(role) for role in realm_roles]
            self.admin.assign_realm_roles(user_id, roles)
        if client_roles:
            client = self.client_uuid(DOCUMENT_CLIENT)
            roles = [self.admin.get_client_role(client, role) for role in client_roles]
            self.admin.assign_client_role(user_id, client, roles)
        for group in groups:
            self.admin.group_user_add(user_id, self.group_id(group))
        return user_id

    def bulk_add_users(
        self, n: int, prefix: str, *, password: str | None = None, chunk: int = 100
    ) -> dict[str, str]:
        """Add users `<prefix>00000`… through partial import; returns username -> id.

        One request per `chunk` users instead of one per user; Keycloak's import time grows
        faster than linearly with the request size (2,000 users: ~1 s in chunks of 100,
        ~9 s in one request). With a password, one PBKDF2 hash computed here is shared by
        all, because Keycloak would hash each plain password itself at full strength.
        """
        credentials = [_hashed_password(password)] if password is not None else []
        ids: dict[str, str] = {}
        for start in range(0, n, chunk):
            users = [
                {
                    **_user_representation(
                        f"{prefix}{i:05d}",
                        f"{prefix}{i:05d}@example.gov.vn",
                        f"{prefix.upper()}{i:05d}",
                        "Người dùng",
                        f"{prefix} {i}",
                        True,
                    ),
                    "credentials": credentials,
                }
                for i in range(start, min(start + chunk, n))
            ]
            response = self.admin.partial_import_realm(
                self.name, {"ifResourceExists": "FAIL", "users": users}
            )
            for result in response.get("results", []):
                if result.get("resourceType") == "USER":
                    ids[str(result["resourceName"])] = str(result["id"])
        if len(ids) != n:
            raise RuntimeError(f"partial import added {len(ids)} users, expected {n}")
        return ids

    # -- acting as users and as syncbot ----------------------------------------------------

    def openid(self) -> KeycloakOpenID:
        """The public `test-login` client, for password grants and refreshes."""
        return KeycloakOpenID(
            server_url=self.server_url, realm_name=self.name, client_id=LOGIN_CLIENT
        )

    def login(self, username: str, password: str, *, offline: bool = False) -> dict[str, Any]:
        """Log a user in with the password grant; `offline` asks for an offline token too."""
        scope = "openid offline_access" if offline else "openid"
        return dict(self.openid().token(username, password, scope=scope))

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        """Use a refresh (or offline) token; raises `keycloak.KeycloakPostError` once revoked."""
        return dict(self.openid().refresh_token(refresh_token))

    def syncbot_admin(self) -> KeycloakAdmin:
        """An admin client logged in as the `syncbot` service account (client credentials)."""
        return KeycloakAdmin(
            server_url=self.server_url,
            realm_name=self.name,
            client_id=self.client_id,
            client_secret_key=self.client_secret,
            timeout=_HTTP_TIMEOUT,
        )

    # -- LDAP federation -------------------------------------------------------------------

    def add_ldap_federation(
        self,
        url: str,
        bind_dn: str,
        bind_password: str,
        users_dn: str,
        *,
        edit_mode: str = "WRITABLE",
        import_users: bool = True,
    ) -> str:
        """Federate users from an OpenLDAP-like directory; returns the component id.

        `employeeNumber` is mapped to the user attribute of the same name, as production
        realms that federate their directory do.
        """
        component_id = str(
            self.admin.create_component(
                {
                    "name": "ldap",
                    "providerId": "ldap",
                    "providerType": "org.keycloak.storage.UserStorageProvider",
                    "parentId": self.realm_id,
                    "config": _ldap_config(
                        url, bind_dn, bind_password, users_dn, edit_mode, import_users
                    ),
                }
            )
        )
        self.admin.create_component(
            {
                "name": EMPLOYEE_NUMBER,
                "providerId": "user-attribute-ldap-mapper",
                "providerType": "org.keycloak.storage.ldap.mappers.LDAPStorageMapper",
                "parentId": component_id,
                "config": {
                    "ldap.attribute": [EMPLOYEE_NUMBER],
                    "user.model.attribute": [EMPLOYEE_NUMBER],
                    "read.only": ["false" if edit_mode == "WRITABLE" else "true"],
                    "always.read.value.from.ldap": ["false"],
                    "is.mandatory.in.ldap": ["false"],
                    "is.binary.attribute": ["false"],
                },
            }
        )
        self.ldap_component_id = component_id
        return component_id

    def sync_ldap_users(self, component_id: str | None = None) -> dict[str, Any]:
        """Run a full sync of a federation (default: the last one added); returns its counts."""
        target = component_id or self.ldap_component_id
        if target is None:
            raise RuntimeError(f"realm {self.name!r} has no LDAP federation to sync")
        result = dict(self.admin.sync_users(target, "triggerFullSync"))
        if result.get("failed"):
            raise RuntimeError(f"LDAP sync into {self.name!r} failed for some users: {result}")
        return result

    def delete(self) -> None:
        """Delete the realm with everything in it."""
        self.admin.delete_realm(self.name)

    # -- building --------------------------------------------------------------------------

    def _declare_employee_number(self) -> None:
        profile = self.admin.get_realm_users_profile()
        attributes = [a for a in profile.get("attributes", []) if a["name"] != EMPLOYEE_NUMBER]
        attributes.append(
            {
                "name": EMPLOYEE_NUMBER,
                "displayName": "Mã nhân sự",
                "multivalued": False,
                "validations": {"length": {"max": 64}},
                # Users may see their number but only administrators (and syncbot) change it.
                "permissions": {"view": ["admin", "user"], "edit": ["admin"]},
            }
        )
        self.admin.update_realm_users_profile({**profile, "attributes": attributes})

    def _add_roles_and_groups(self) -> None:
        client = self.admin.create_client(
            {
                "clientId": DOCUMENT_CLIENT,
                "name": "QOffice – hệ thống quản lý văn bản",
                "publicClient": False,
                "standardFlowEnabled": False,
                "directAccessGrantsEnabled": False,
            }
        )
        for role in ROLE_NAMES:
            payload = {"name": role, "description": ROLE_TITLES[role]}
            self.admin.create_realm_role(payload)
            self.admin.create_client_role(client, payload)
            self.admin.create_group({"name": role})
        self.admin.create_group({"name": UNIT_GROUP})

    def _add_login_client(self) -> None:
        self.admin.create_client(
            {
                "clientId": LOGIN_CLIENT,
                "name": "Đăng nhập thử",
                "publicClient": True,
                "standardFlowEnabled": False,
                "directAccessGrantsEnabled": True,
            }
        )

    def _add_syncbot_client(self) -> None:
        client = self.admin.create_client(
            {
                "clientId": SYNCBOT_CLIENT,
                "name": "syncbot",
                "publicClient": False,
                "clientAuthenticatorType": "client-secret",
                "serviceAccountsEnabled": True,
                "standardFlowEnabled": False,
                "directAccessGrantsEnabled": False,
            }
        )
        self.client_secret = str(self.admin.get_client_secrets(client)["value"])
        account = self.admin.get_client_service_account_user(client)
        management = self.client_uuid("realm-management")
        roles = [self.admin.get_client_role(management, role) for role in SERVICE_ACCOUNT_ROLES]
        self.admin.assign_client_role(account["id"], management, roles)


# -- helpers ---------------------------------------------------------------------------------


def _user_representation(
    username: str,
    email: str | None,
    employee_number: str | None,
    first_name: str,
    last_name: str,
    enabled: bool,
) -> dict[str, Any]:
    representation: dict[str, Any] = {"username": username, "enabled": enabled}
    if email:
        representation.update(email=email, emailVerified=True)
    if first_name:
        representation["firstName"] = first_name
    if last_name:
        representation["lastName"] = last_name
    if employee_number is not None:
        representation["attributes"] = {EMPLOYEE_NUMBER: [employee_number]}
    return representation


def _hashed_password(password: str) -> dict[str, Any]:
    """A Keycloak password credential with the hash already computed (pbkdf2-sha512)."""
    salt = secrets.token_bytes(16)
    iterations = 1000  # throwaway test users; Keycloak rehashes at full strength on login
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, 64)
    return {
        "type": "password",
        "secretData": json.dumps(
            {
                "value": base64.b64encode(digest).decode("ascii"),
                "salt": base64.b64encode(salt).decode("ascii"),
                "additionalParameters": {},
            }
        ),
        "credentialData": json.dumps(
            {"hashIterations": iterations, "algorithm": "pbkdf2-sha512", "additionalParameters": {}}
        ),
    }


def _ldap_config(
    url: str,
    bind_dn: str,
    bind_password: str,
    users_dn: str,
    edit_mode: str,
    import_users: bool,
) -> dict[str, list[str]]:
    config = {
        "enabled": "true",
        "priority": "0",
        "vendor": "other",
        "connectionUrl": url.rstrip("/"),
        "authType": "simple",
        "bindDn": bind_dn,
        "bindCredential": bind_password,
        "usersDn": users_dn,
        "searchScope": "1",
        "editMode": edit_mode,
        "importEnabled": str(import_users).lower(),
        "syncRegistrations": "false",
        "usernameLDAPAttribute": "uid",
        "rdnLDAPAttribute": "uid",
        "uuidLDAPAttribute": "entryUUID",
        "userObjectClasses": "inetOrgPerson",
        "pagination": "true",
        "batchSizeForSync": "1000",
        "fullSyncPeriod": "-1",
        "changedSyncPeriod": "-1",
        "cachePolicy": "DEFAULT",
        "trustEmail": "true",
        "useTruststoreSpi": "always",
        "connectionPooling": "true",
        "startTls": "false",
        "usePasswordModifyExtendedOp": "false",
        "validatePasswordPolicy": "false",
    }
    return {key: [value] for key, value in config.items()}


def _is_up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback http)
            return bool(response.status == 200 and json.load(response).get("status") == "UP")
    except (OSError, ValueError):
        return False


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (configured URL)
            return bool(response.status == 200)
    except (OSError, ValueError):
        return False


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
