"""`syncbot status`: what the worker last did and what comes next, read from its status
file and the pushed rows on disk, without talking to the worker or any target."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from syncbot.push_store import PushStore
from syncbot.wording.cli import no_worker_status
from syncbot.worker.status import exit_code, pushed_rows, read_status, render_pushed, render_status

if TYPE_CHECKING:
    from syncbot.config import Config


def status(args: argparse.Namespace, config: Config) -> int:
    path = config.worker.status_path(config.state_dir)
    worker = read_status(path)
    pushed = pushed_rows(PushStore(config.state_dir).read())
    if worker is None:
        print(no_worker_status(str(path)), file=sys.stderr)
    if args.json:
        if worker is not None:
            print(json.dumps({**worker, "pushed_rows": pushed}, ensure_ascii=False, indent=2,
                             sort_keys=True))  # fmt: skip
    else:
        for line in [*(render_status(worker) if worker else ()), *render_pushed(pushed)]:
            print(line)
    return exit_code(worker)
