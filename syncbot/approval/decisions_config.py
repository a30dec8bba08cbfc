"""What deciding on a saved plan needs of the config: where the state folder and the audit
log are, and `[approval]`. Read without the targets' secrets.

`load_config` reads every secret as it loads, so that a bad reference fails early; an
approver is not meant to hold them (under systemd the worker holds them as credentials),
so `plans`, `approve` and `reject` read only these few keys of the same file, with the
same checks on the file and the same defaults (a test holds the two readers equal).
Applying an approved plan needs the whole config, as any apply does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from syncbot.approval.settings import ApprovalSettings, parse_approval
from syncbot.config import DEFAULT_AUDIT_PATH, DEFAULT_STATE_DIR, read_top


@dataclass(frozen=True, slots=True)
class DecisionsConfig:
    path: Path
    state_dir: Path
    audit_path: Path
    approval: ApprovalSettings


def load_decisions_config(path: Path) -> DecisionsConfig:
    top = read_top(path)
    state, audit = top.table("state"), top.table("audit")
    return DecisionsConfig(
        path=path,
        state_dir=state.path(state.get("dir", str, DEFAULT_STATE_DIR)),
        audit_path=audit.path(audit.get("path", str, DEFAULT_AUDIT_PATH)),
        approval=parse_approval(top.table("approval")),
    )
