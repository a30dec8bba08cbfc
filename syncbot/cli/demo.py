"""`syncbot demo`: runs the throwaway dev servers of a source checkout.

The servers and sample data live in the checkout's top-level `localdev/` folder, which pip does
not install: a production host has no use for a slapd or Keycloak launcher. This is the one
place the package looks for that folder, next to the folder holding `syncbot` itself.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import syncbot
from syncbot.errors import LocalResourceError


def checkout_localdev() -> Path:
    """The `localdev/` folder of the checkout syncbot runs from.

    Raises LocalResourceError when syncbot is an installed copy (from a wheel or
    `pip install .`), which has no checkout around it.
    """
    folder = Path(syncbot.__file__).resolve().parents[1] / "localdev"
    if not (folder / "__init__.py").is_file():
        raise LocalResourceError(
            "the demo's servers are not installed with syncbot: run the demo from a source checkout"
        )
    return folder


def run(args: argparse.Namespace) -> int:
    root = str(checkout_localdev().parent)
    # The console script's sys.path holds the installed package only; first, so that this
    # checkout's localdev wins over any other module of that name.
    if root not in sys.path:
        sys.path.insert(0, root)
    from localdev.demo import run_demo

    return run_demo(
        args.workdir,
        lang=args.lang,
        keycloak=not args.no_keycloak,
        directory=args.directory,
    )
