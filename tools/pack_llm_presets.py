#!/usr/bin/env python3
"""Pack KServe's LLMInferenceServiceConfig presets into ``generator/servespec/kserve/presets/llm-presets.json.gz``.

Run by a developer when a KServe release is added (never at install or test time)::

    python tools/pack_llm_presets.py --kserve-git DIR          # DIR: a kserve/kserve git dir with its tags
    python tools/pack_llm_presets.py --kserve-git DIR --check  # exit 1 if the committed data is stale

Input: ``config/llmisvcconfig/*.yaml`` (the well-known presets KServe installs into its own
namespace) at every supported tag from v0.16.0 (the first with LLMInferenceService), read with
``git show TAG:PATH``; each tag must resolve to the commit ``../shared/kserve-versions/SOURCES.md``
records (checked when that file is there). Output, deterministic bytes (sorted keys, gzip mtime
0): per release, its tag and commit, and per preset name its source path, apiVersion and
``spec`` exactly as shipped (Go template strings such as ``{{ .Spec.Model.Name }}`` included:
the controller evaluates them after merging, whatever config they come from).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "generator" / "servespec" / "kserve" / "presets" / "llm-presets.json.gz"
SOURCES = ROOT.parent / "shared" / "kserve-versions" / "SOURCES.md"
RELEASES = ("0.16.0", "0.17.1", "0.18.1", "0.19.0", "0.20.0")
FOLDER = "config/llmisvcconfig"
FORMAT = 1


def _git(git_dir: Path, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", str(git_dir), *args], check=True, capture_output=True, text=True).stdout


def _recorded_commits() -> dict[str, str]:
    """``v0.20.0 -> commit`` from SOURCES.md, when the reference material is there."""
    if not SOURCES.is_file():
        return {}
    return dict(re.findall(r"^\| (v\d+\.\d+\.\d+) \| ([0-9a-f]{40}) \|", SOURCES.read_text(), re.M))


def collect(git_dir: Path) -> dict[str, object]:
    """The packed data, as a JSON-ready dict."""
    recorded = _recorded_commits()
    releases: dict[str, object] = {}
    for release in RELEASES:
        tag = f"v{release}"
        commit = _git(git_dir, "rev-parse", f"{tag}^{{commit}}").strip()
        if recorded and recorded.get(tag) != commit:
            raise SystemExit(f"{tag} is {commit} in {git_dir}, SOURCES.md records {recorded.get(tag)}")
        presets: dict[str, object] = {}
        for path in sorted(_git(git_dir, "ls-tree", "--name-only", f"{tag}:{FOLDER}").split()):
            if not path.endswith(".yaml") or path == "kustomization.yaml":
                continue
            for doc in yaml.safe_load_all(_git(git_dir, "show", f"{tag}:{FOLDER}/{path}")):
                if not doc or doc.get("kind") != "LLMInferenceServiceConfig":
                    continue
                presets[doc["metadata"]["name"]] = {
                    "path": f"{FOLDER}/{path}", "apiVersion": doc["apiVersion"], "spec": doc["spec"],
                }
        releases[release] = {"tag": tag, "commit": commit, "presets": presets}
    return {"format": FORMAT, "repo": "kserve/kserve", "releases": releases}


def encode(data: dict[str, object]) -> bytes:
    """Deterministic gzip'd JSON."""
    raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return gzip.compress(raw, compresslevel=9, mtime=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kserve-git", type=Path, required=True, help="a kserve/kserve git dir with its tags")
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed data is stale")
    args = parser.parse_args(argv)
    data = encode(collect(args.kserve_git))
    if args.check:
        if not OUT.is_file() or OUT.read_bytes() != data:
            print(f"{OUT.relative_to(ROOT)} is stale: run tools/pack_llm_presets.py", file=sys.stderr)
            return 1
        print(f"{OUT.relative_to(ROOT)} is current")
        return 0
    OUT.write_bytes(data)
    print(f"wrote {OUT.relative_to(ROOT)} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
