"""The long-running worker behind `syncbot run`: triggers, schedule, status, systemd.

Kept import-light: config.py imports `worker.settings`, so nothing here may import config.
"""
