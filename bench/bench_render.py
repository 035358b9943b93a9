"""Benchmark servespec like an incremental build system: N synthetic models x 3 environments.

Every step runs as its own process (``python -m servespec ...``), as a user or CI would run it,
and is measured three ways from ``wait4``: wall time, CPU time (user + system, children
included) and peak memory. Each run starts in a fresh directory with an empty cache (the old
tree is never deleted right before a cold step: on ext4 a mass delete makes the following file
creations slow), several runs give ranges, and the machine's load average is recorded with them.

Steps: cold render, validate after it, no-op render, no-op ``render --check``, the first change of
one model (builds the spare tree), a second change of one model (the steady state), validate after
it, ``promote`` of one model (no push). Then the same through a daemon (``servespec daemon start``
for the repo; each step still a client process, measured the same way, plus the server's CPU for
the command from ``/proc/PID/stat``, its waited children and the cache files it writes after
replying included): a no-op render (after one
warm-up change and one warm-up no-op, which proves the trees by ``lstat`` once their folders are
watched: the steady state of an editor's save loop), a one-model change, validate after it,
``promote``; the daemon is stopped at the
end. Also: the same render computed in memory, the floor (a
plain script writing the same objects with PyYAML's C dumper), and the start-up budget of the
no-op (``python -X importtime``: nothing heavy imported, imports under ``--startup-budget-ms``).

    python bench/bench_render.py --models 1000 --runs 3 --json out.json
    python bench/bench_render.py --models 1000 10000 --runs 1          # growth ratio per step
    python bench/bench_render.py --models 1000 --references             # + kubectl kustomize, cdk8s

Bytecode is cached (in a folder of the benchmark's own, ``PYTHONPYCACHEPREFIX``), as for an
installed package. Exit status 1 when the start-up budget is exceeded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_refs import cdk8s_objects_per_s, kustomize_seconds  # noqa: E402
from bench_repo import edit_model, synth_repo, git  # noqa: E402

HEAVY = ("pydantic", "click", "yaml", "orjson", "git", "jsonschema", "servespec.spec", "servespec.emit", "grafana_foundation_sdk")
"""Modules the no-op render must not import."""

STEPS = ["cold_render", "validate", "noop_render", "noop_check", "first_change", "one_model", "revalidate", "promote"]
DAEMON_STEPS = ["daemon_noop_render", "daemon_one_model", "daemon_revalidate", "daemon_promote"]
TARGETS = {"noop_render": 0.3, "one_model": 0.3, "revalidate": 0.5, "cold_render+validate": 3.0, "promote": 0.5,
           "daemon_noop_render": 0.3, "daemon_one_model": 0.3, "daemon_revalidate": 0.5, "daemon_promote": 0.5}
"""Issue 19's targets at 1,000 models x 3 envs (seconds)."""


class Runner:
    """Runs servespec steps as processes with one cache folder and the bench's bytecode cache."""

    def __init__(self, work: Path):
        self.work = work
        self.pycache = work / "pycache"
        self.schemas = work / "schemas"  # converted CRD schemas, kept across runs (TOOLCHAIN.md §4)

    def env(self, cache: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update({"SERVESPEC_CACHE_DIR": str(cache), "PYTHONPYCACHEPREFIX": str(self.pycache), "GIT_AUTHOR_NAME": "bench",
                    "GIT_AUTHOR_EMAIL": "bench@example.invalid", "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid"})
        return env

    def run(self, cmd: list[str], cache: Path, check: bool = True) -> dict[str, float]:
        """Wall seconds, CPU seconds (user + system, waited children included) and peak MB of one process."""
        os.sync()  # the previous step's disk writeback must not be billed to this one
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=self.env(cache))
            _pid, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t0
            proc.returncode = os.waitstatus_to_exitcode(status)
            if check and proc.returncode != 0:
                err.seek(0)
                raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.read().decode()[-2000:]}")
        return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "sys": usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024}

    def servespec(self, repo: Path, cache: Path, *args: str) -> dict[str, float]:
        return self.run([sys.executable, "-m", "servespec", *args, "--root", str(repo)], cache)

    def through(self, repo: Path, cache: Path, pid: int, *args: str) -> dict[str, float]:
        """One step as a client of the daemon ``pid``: the client as any step (its wall time is
        the reply's latency), plus the server's CPU for the command, the cache files it writes
        after replying included (a ``daemon status`` is answered once they are written)."""
        before = server_cpu(pid)
        out = self.servespec(repo, cache, *args)
        subprocess.run([sys.executable, "-m", "servespec", "daemon", "status", "--root", str(repo)], env=self.env(cache),
                       capture_output=True, check=True)
        out["server_cpu"] = server_cpu(pid) - before
        return out

    def cache_for(self, folder: Path) -> Path:
        folder.mkdir(parents=True)
        for path in self.schemas.glob("*.json"):
            shutil.copy(path, folder / path.name)
        return folder


def server_cpu(pid: int) -> float:
    """CPU seconds of process ``pid`` so far: user + system, its waited children included (``/proc/PID/stat``)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rpartition(b")")[2].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def daemon_steps(runner: Runner, repo: Path, cache: Path) -> dict[str, Any]:
    """The steps through a daemon of ``repo`` (started here, stopped at the end)."""
    runner.servespec(repo, cache, "daemon", "start")
    status = subprocess.run([sys.executable, "-m", "servespec", "daemon", "status", "--output", "json", "--root", str(repo)],
                            capture_output=True, text=True, check=True, env=runner.env(cache))
    pid = int(json.loads(status.stdout)["pid"])
    out: dict[str, Any] = {}
    try:
        runner.through(repo, cache, pid, "render")  # records the render after promote
        edit_model(repo, "max_replicas=6", "max_replicas=8")
        runner.through(repo, cache, pid, "render")  # warm-up: one model through the daemon
        runner.through(repo, cache, pid, "render")  # warm-up: the first no-op proves the trees by lstat, with every folder watched
        out["daemon_noop_render"] = runner.through(repo, cache, pid, "render")  # the steady state: trees trusted by their watches
        edit_model(repo, "max_replicas=8", "max_replicas=9")
        out["daemon_one_model"] = runner.through(repo, cache, pid, "render")
        out["daemon_revalidate"] = runner.through(repo, cache, pid, "validate")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "change one model through the daemon")
        runner.through(repo, cache, pid, "release", "model-00003", "--env", "prod", "--storage-uri", "s3://models/model-00003/v2")
        out["daemon_promote"] = runner.through(repo, cache, pid, "promote", "model-00003", "--env", "prod", "--skip-gates")
        with open(f"/proc/{pid}/status") as f:
            out["daemon_peak_mb"] = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
        status = subprocess.run([sys.executable, "-m", "servespec", "daemon", "status", "--output", "json", "--root", str(repo)],
                                capture_output=True, text=True, check=True, env=runner.env(cache))
        if json.loads(status.stdout).get("requests") != 8:  # a refusal (servespec's code or a package changed): ran in-process
            raise SystemExit(f"the daemon did not run every step (see its log): {status.stdout}")
    finally:
        runner.servespec(repo, cache, "daemon", "stop")
    return out


def _mtimes(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def one_run(runner: Runner, models: int, index: int) -> dict[str, Any]:
    """Every step once, in a fresh repo with a fresh cache."""
    base = runner.work / f"n{models}-run{index}"
    repo, cache = base / "repo", runner.cache_for(base / "cache")
    synth_repo(repo, models)
    out: dict[str, Any] = {"load_before": os.getloadavg()}
    out["cold_render"] = runner.servespec(repo, cache, "render")
    out["validate"] = runner.servespec(repo, cache, "validate")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "render")
    before = _mtimes(repo / "rendered")
    out["noop_render"] = runner.servespec(repo, cache, "render")
    out["noop_check"] = runner.servespec(repo, cache, "render", "--check")
    out["noop_files_written"] = sum(1 for p, m in _mtimes(repo / "rendered").items() if before.get(p) != m)
    edit_model(repo, "max_replicas=5", "max_replicas=7")
    out["first_change"] = runner.servespec(repo, cache, "render")
    edit_model(repo, "max_replicas=7", "max_replicas=6")
    before = _mtimes(repo / "rendered")
    out["one_model"] = runner.servespec(repo, cache, "render")
    out["one_model_files_written"] = sum(1 for p, m in _mtimes(repo / "rendered").items() if before.get(p) != m)
    out["revalidate"] = runner.servespec(repo, cache, "validate")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "change one model")
    runner.servespec(repo, cache, "release", "model-00000", "--env", "prod", "--storage-uri", "s3://models/model-00000/v2")
    out["promote"] = runner.servespec(repo, cache, "promote", "model-00000", "--env", "prod", "--skip-gates")
    out.update(daemon_steps(runner, repo, cache))
    out["load_after"] = os.getloadavg()
    out["objects"] = sum(1 for p in (repo / "rendered").rglob("*.yaml") if p.name != "kustomization.yaml")
    out["files"] = sum(1 for p in (repo / "rendered").rglob("*") if p.is_file())
    return out


COMPUTE = ("import sys, time; from pathlib import Path; t0 = time.perf_counter(); "
           "from servespec.project import Project; from servespec.render import render_project; "
           "render_project(Project.load(Path(sys.argv[1]))); print(time.perf_counter() - t0)")

FLOOR = r"""
import os, sys, time
import yaml
src, dest = sys.argv[1], sys.argv[2]
objs = []
for dirpath, _dirs, names in os.walk(src):
    for name in names:
        path = os.path.join(dirpath, name)
        with open(path, "rb") as f:
            objs.append((os.path.relpath(path, src), list(yaml.load_all(f.read(), Loader=yaml.CSafeLoader))))
t0 = time.perf_counter()
made = set()
for rel, docs in objs:
    target = os.path.join(dest, rel)
    parent = os.path.dirname(target)
    if parent not in made:
        os.makedirs(parent, exist_ok=True)
        made.add(parent)
    with open(target, "w") as f:
        yaml.dump_all(docs, f, Dumper=yaml.CSafeDumper, sort_keys=False)
print(time.perf_counter() - t0)
"""


def floor_seconds(runner: Runner, rendered: Path, dest: Path) -> float:
    """A plain script writing the same objects (already in memory) with PyYAML's C dumper."""
    proc = subprocess.run([sys.executable, "-c", FLOOR, str(rendered), str(dest)], capture_output=True, text=True, check=True,
                          env=runner.env(runner.work / "floor-cache"))
    return float(proc.stdout.strip().splitlines()[-1])


def startup(runner: Runner, repo: Path, cache: Path) -> dict[str, Any]:
    """``python -X importtime`` of a no-op render: what it imports and how long that takes."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "servespec", "render", "--root", str(repo)],
                          capture_output=True, text=True, env=runner.env(cache), check=True)
    modules: dict[str, int] = {}
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "imported package" not in line:
            _self, cumulative, name = line[len("import time:"):].split("|")
            if not name.startswith(" " * 3):  # top-level imports: their cumulative time adds up
                modules[name.strip()] = int(cumulative)
            modules.setdefault(name.strip(), 0)
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY or any(m.startswith(h + ".") or m == h for h in HEAVY))
    total = sum(v for k, v in modules.items() if v) / 1000
    return {"imports_ms": total, "heavy": heavy, "modules": len(modules)}


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median and range of every step's wall and CPU time and of peak memory."""
    out: dict[str, Any] = {}
    for step in STEPS + DAEMON_STEPS:
        for what in ("wall", "cpu", "sys", "rss_mb", "server_cpu"):
            if what not in runs[0][step]:
                continue
            values = [r[step][what] for r in runs]
            out[f"{step}.{what}"] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
    both = [r["cold_render"]["wall"] + r["validate"]["wall"] for r in runs]
    out["cold_render+validate.wall"] = {"median": statistics.median(both), "min": min(both), "max": max(both)}
    out["peak_rss_mb"] = max(r[s]["rss_mb"] for r in runs for s in STEPS)
    out["load"] = [min(min(r["load_before"][0], r["load_after"][0]) for r in runs), max(max(r["load_before"][0], r["load_after"][0]) for r in runs)]
    out["daemon_peak_mb"] = max(r["daemon_peak_mb"] for r in runs)
    for key in ("objects", "files", "noop_files_written", "one_model_files_written"):
        out[key] = runs[0][key]
    return out


def _range(entry: dict[str, float]) -> str:
    lo, hi, mid = entry["min"], entry["max"], entry["median"]
    return f"{mid:.3f}" if hi - lo < 0.0005 else f"{mid:.3f} ({lo:.3f}-{hi:.3f})"


def table(sizes: list[int], results: dict[int, dict[str, Any]]) -> str:
    head = ["step", *[f"N={n:,} wall s" for n in sizes], *[f"N={n:,} CPU s" for n in sizes], *[f"N={n:,} of which sys" for n in sizes],
            *[f"N={n:,} server CPU s" for n in sizes], "peak MB", "target (N=1,000)"]
    rows = [head]
    for step in [*STEPS[:2], "cold_render+validate", *STEPS[2:], *DAEMON_STEPS]:
        walls = [_range(results[n][f"{step}.wall"]) for n in sizes]
        cpus = [_range(results[n][f"{step}.cpu"]) if f"{step}.cpu" in results[n] else "" for n in sizes]
        syss = [f"{results[n][f'{step}.sys']['median']:.3f}" if f"{step}.sys" in results[n] else "" for n in sizes]
        servers = [_range(results[n][f"{step}.server_cpu"]) if f"{step}.server_cpu" in results[n] else "" for n in sizes]
        peak = max((results[n][f"{step}.rss_mb"]["max"] for n in sizes if f"{step}.rss_mb" in results[n]), default=0)
        target = TARGETS.get(step)
        rows.append([step, *walls, *cpus, *syss, *servers, f"{peak:.0f}" if peak else "", f"< {target} s" if target else ""])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, nargs="+", default=[1000])
    parser.add_argument("--runs", type=int, default=3, help="fresh runs per size (ranges are over these)")
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")
    parser.add_argument("--references", action="store_true", help="also time kubectl kustomize and cdk8s at the first size")
    parser.add_argument("--startup-budget-ms", type=float, default=60.0, help="imports of a no-op render may take this long")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temp folder, removed)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="servespec-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    runner = Runner(work)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}"
    report: dict[str, Any] = {"machine": machine, "sizes": {}}
    try:
        warm = work / "warm"
        synth_repo(warm / "repo", 10)
        warm_cache = runner.cache_for(warm / "cache")
        runner.servespec(warm / "repo", warm_cache, "render")  # bytecode, converted schemas
        runner.servespec(warm / "repo", warm_cache, "validate")
        runner.schemas.mkdir(exist_ok=True)
        for path in [*warm_cache.glob("shipped-*.json"), *warm_cache.glob("crd-*.json")]:
            shutil.copy(path, runner.schemas / path.name)
        for n in args.models:
            runs = [one_run(runner, n, i) for i in range(args.runs)]
            summary = summarize(runs)
            repo = work / f"n{n}-run0" / "repo"
            summary["floor_s"] = floor_seconds(runner, repo / "rendered", work / f"floor-{n}")
            summary["compute_s"] = float(subprocess.run([sys.executable, "-c", COMPUTE, str(repo)], capture_output=True, text=True,
                                                        check=True, env=runner.env(work / "compute-cache")).stdout.split()[-1])
            summary["cold_render_over_floor"] = summary["cold_render.wall"]["median"] / summary["floor_s"]
            runner.servespec(repo, work / f"n{n}-run0" / "cache", "render")  # after promote: records the render again
            summary["startup"] = startup(runner, repo, work / f"n{n}-run0" / "cache")
            if args.references and n == args.models[0]:
                summary["kustomize_prod_s"] = kustomize_seconds(repo / "rendered")
                summary["cdk8s_objects_per_s"] = cdk8s_objects_per_s(n, work)
            report["sizes"][n] = summary
            print(f"N={n:,}: done ({args.runs} runs, load {summary['load'][0]:.1f}-{summary['load'][1]:.1f})", file=sys.stderr, flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    sizes = args.models
    print(f"servespec benchmark on {machine}; {report['sizes'][sizes[0]]['objects']:,} objects in "
          f"{report['sizes'][sizes[0]]['files']:,} files at N={sizes[0]:,}")
    print(table(sizes, report["sizes"]))
    for n in sizes:
        s = report["sizes"][n]
        print(f"N={n:,}: floor {s['floor_s']:.3f} s (cold render {s['cold_render_over_floor']:.1f}x), computing in memory "
              f"{s['compute_s']:.3f} s, peak {s['peak_rss_mb']:.0f} MB (daemon {s['daemon_peak_mb']:.0f} MB), load average {s['load'][0]:.1f}-{s['load'][1]:.1f}, "
              f"files written by a no-op {s['noop_files_written']}, by a one-model change {s['one_model_files_written']}")
    for small, big in zip(sizes, sizes[1:], strict=False):
        ratios = {step: report["sizes"][big][f"{step}.wall"]["median"] / report["sizes"][small][f"{step}.wall"]["median"]
                  for step in STEPS + DAEMON_STEPS}
        report.setdefault("growth", {})[f"{big}/{small}"] = ratios
        print(f"growth N={big:,} / N={small:,}: " + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items()))
    start = report["sizes"][sizes[0]]["startup"]
    ok = not start["heavy"] and start["imports_ms"] <= args.startup_budget_ms
    print(f"start-up of a no-op render: imports {start['imports_ms']:.1f} ms (budget {args.startup_budget_ms:g} ms), "
          f"{start['modules']} modules, heavy: {', '.join(start['heavy']) or 'none'} -> {'ok' if ok else 'OVER BUDGET'}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
