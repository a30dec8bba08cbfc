"""`python -m syncbot` is the `syncbot` command."""

from syncbot.cli import main

raise SystemExit(main())
