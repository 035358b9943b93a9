"""Canary rollouts as git commits.

- ``state.py``: the state file ``overlays/<env>.rollout.yaml`` (loading layer);
- ``transitions.py``: release / promote / rollback as pure functions of state, plan and gate results;
- ``gates.py``: evaluating gates against Prometheus;
- ``apply.py``: writing the state, re-rendering, committing and pushing: what the commands call;
- ``batch.py``: ``promote --all``, one verdict per model and the run's exit code;
- ``forget.py``: removing a deleted model's state entry;
- ``status.py``: where every model's rollout stands;
- ``policy.py``: promotion policy decisions, pure: freezes, windows, eligibility of a version;
- ``provenance.py``: each environment's rollout commits from git, verified against what they changed;
- ``promotion.py``: the policy applied to the commands (requirements, freezes, windows,
  break-glass, approval branches) and the ``status`` entries of what is eligible.

This package's ``__init__`` imports nothing, so ``resolve.py`` can read state files without
pulling in git and Prometheus code.
"""
