"""Saved plans and their approval: a refused plan is applied exactly as it was reviewed.

A threshold refusal used to leave one way forward, `apply --force`, which plans again and
applies whatever the plan is by then. Here the refused plan is kept (`refusal`) as a file
whose sha256 is its name (`saved`), each step with the state of its account it was computed
from (`steps`); people approve or reject it by id (`store`; `settings` for `[approval]`,
`decisions_config` for reading it without the targets' secrets), and an approved plan goes
through `syncbot.sync` with its own rule (`apply`), which applies its steps and no others,
skipping any whose account changed since.
"""
