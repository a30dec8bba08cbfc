"""Planning: from what HR, the circulars or a leak list say, and what the targets hold, to a
`Plan` of steps and findings. Pure: nothing here reads or writes anything.

- `planner`: a reconcile's plan — the roster's rules per person, and the entry point.
- `duty_rules`: the circulars' duties (password rules, dormant, orphan, guessed accounts).
- `quarantine`: the plan for a leaked-credentials list.
- `build`: the one place a step, a finding or its evidence is made, for all three.

Every plan is sorted by `syncbot.model.step_order`, the order the executor relies on.
"""
