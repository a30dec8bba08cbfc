"""The long-running worker behind `syncbot run`: triggers, schedule, status, systemd.

It is given its settings and a run function (`loop.WorkerSetup`); the Config is turned
into them by `syncbot.configured_worker`, outside this package.
"""
