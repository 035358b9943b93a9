"""Canary rollouts as git commits.

- ``state.py``: the state file ``overlays/<env>.rollout.yaml`` (loading layer);
- ``transitions.py``: release / promote / rollback as pure functions of state, plan and gate results;
- ``gates.py``: evaluating gates against Prometheus;
- ``apply.py``: writing the state, re-rendering, committing and pushing: what the commands call.

This package's ``__init__`` imports nothing, so ``resolve.py`` can read state files without
pulling in git and Prometheus code.
"""
