"""A minimal servespec repo with one LLM, for the LLM tests: specs/ and overlays/ written into a
temporary folder (no example repo, no ../shared)."""

from __future__ import annotations

import textwrap
from pathlib import Path

LLM_SPEC = """
from servespec.spec import LLM, Accelerators, HFTokenExternalSecret, LLMCache, RemoteRef, Resources, Toleration

CHAT = LLM(
    name="chat",
    model_uri="hf://Qwen/Qwen2.5-0.5B-Instruct",
    served_name="qwen-small",
    accelerators=Accelerators(count=1),
    resources=Resources(requests={"cpu": "1", "memory": "8Gi"}, limits={"cpu": "2", "memory": "8Gi"}),
    node_selector={"nvidia.com/gpu.present": "true"},
    tolerations=[Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")],
    hf_token=HFTokenExternalSecret(store="vault", token=RemoteRef(key="ml/hf", property="token")),
    %(extra)s
)
"""


def make_repo(root: Path, kserve: str = "0.20", extra: str = "", overlay: str = "", spec: str | None = None,
              state: str | None = None) -> Path:
    """``root`` with ``specs/chat.py`` (one LLM; ``extra`` adds keyword arguments) and
    ``overlays/prod.yaml`` on KServe ``kserve`` (``overlay`` adds YAML), plus a rollout state file."""
    (root / "specs").mkdir(parents=True, exist_ok=True)
    (root / "overlays").mkdir(exist_ok=True)
    (root / "specs" / "chat.py").write_text(spec if spec is not None else LLM_SPEC % {"extra": extra})
    (root / "overlays" / "prod.yaml").write_text(f'namespace: ml-prod\nkserveVersion: "{kserve}"\n' + textwrap.dedent(overlay))
    if state is not None:
        (root / "overlays" / "prod.rollout.yaml").write_text(textwrap.dedent(state))
    return root


def canary_state(step: int, traffic: int, phase: str = "canary") -> str:
    """A rollout state file with ``chat`` in ``phase`` (candidate ``...-1.5B``)."""
    lines = ["models:", "  chat:", f"    phase: {phase}", "    stable: hf://Qwen/Qwen2.5-0.5B-Instruct"]
    if phase == "canary":
        lines += ["    candidate: hf://Qwen/Qwen2.5-1.5B-Instruct", f"    step: {step}", f"    traffic: {traffic}"]
    if phase == "rolled-back":
        lines += ["    rolledBack: hf://Qwen/Qwen2.5-1.5B-Instruct", "    traffic: 0"]
    lines.append('    since: "2026-11-24T18:00:00Z"')
    return "\n".join(lines) + "\n"
