"""``servespec daemon``: a forwarded command behaves as the same command run in-process (output,
exit code, streams, environment, working folder), falls back silently when no daemon can take it,
and never runs stale code.

Servers are started with their own cache folder under ``tmp_path`` (so a daemon a user runs is
never reached, and the socket stays in ``tmp_path`` or its 0700 folder of the temporary folder)
and always stopped or killed in teardown; every wait is bounded. Two servers are used: the real
one (``servespec daemon start``) and a probe (``server.serve`` running a function that reports
the process state it was given), which shows what a command sees without a servespec command
that prints it.
"""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import servespec
from servespec.daemon import client, control, locate, request, server, wire
from conftest import GIT_ENV, copy_example, git, run_cli

GENERATOR = str(Path(servespec.__file__).resolve().parent.parent)
WAIT = 30.0

PROBE_SERVER = r"""
import json, os, sys, time
from servespec.daemon.server import serve

def probe(argv):
    what = argv[1] if len(argv) > 1 else ""
    if what == "boom":
        raise ValueError("boom\nsecond line")
    if what == "sleep":
        print("started", flush=True)
        time.sleep(60)
    if what == "die":
        os._exit(3)
    mask = os.umask(0o022)
    os.umask(mask)
    print(json.dumps({"argv": argv, "isatty": [os.isatty(n) for n in range(3)], "stdout_tty": sys.stdout.isatty(),
                      "line_buffering": sys.stdout.line_buffering, "cwd": os.getcwd(), "probe": os.environ.get("PROBE"),
                      "no_daemon": os.environ.get("SERVESPEC_NO_DAEMON"), "umask": mask}))
    print("to stderr", file=sys.stderr)
    if what == "exit":
        raise SystemExit(int(argv[2]))

sys.exit(serve(sys.argv[1], float(sys.argv[2]), probe))
"""


# -- helpers ---------------------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of every process of a test: its own cache folder, this servespec, buffered output."""
    monkeypatch.setenv("SERVESPEC_CACHE_DIR", str(tmp_path / "cache"))
    if len(str(tmp_path)) <= 60:  # a socket path too long for the cache folder goes to TMPDIR: tmp_path, when short enough
        monkeypatch.setenv("TMPDIR", str(tmp_path))
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONUNBUFFERED", locate.DISABLE_VAR)}
    return {**base, **GIT_ENV, "PYTHONPATH": GENERATOR}


def servespec_run(args: list[str], env: dict[str, str], cwd: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """``servespec ARGS`` as its own process (captured output, text, bounded)."""
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **kwargs}
    return subprocess.run([sys.executable, "-m", "servespec", *args], cwd=cwd, env=env, text=True, timeout=WAIT * 2,
                          **streams)  # type: ignore[call-overload]


def in_process(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return servespec_run(args, {**env, locate.DISABLE_VAR: "1"}, cwd)


def served(root: Path) -> int:
    """How many commands the daemon of ``root`` has run: its answer to a status request, asked
    here (what ``daemon status --output json`` prints; this process has the test's cache folder
    and TMPDIR, :func:`env`), without starting a servespec process for it."""
    info = control.status(str(root.resolve()))
    return int(str(info["requests"])) if info["running"] else -1


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[:1] != [b"Z"]
    except OSError:
        return False


def _wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A private temp folder short enough for a socket path in it (AF_UNIX: ~100 bytes), whatever
    pytest's ``tmp_path`` is (under pytest-xdist it is 10 bytes longer); removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="ss", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The example repo as a git repository, rendered and committed."""
    root = copy_example(tmp_path / "b" / "repo")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "initial")
    return root


@pytest.fixture
def daemon(repo: Path, env: dict[str, str]) -> Iterator[dict[str, object]]:
    """The real daemon of ``repo``, stopped (or killed) afterwards."""
    out = servespec_run(["daemon", "start", "--root", str(repo), "--idle-timeout", "120"], env, repo)
    assert out.returncode == 0, out.stderr
    info: dict[str, object] = json.loads(servespec_run(["daemon", "status", "--output", "json"], env, repo).stdout)
    try:
        yield info
    finally:
        servespec_run(["daemon", "stop", "--root", str(repo)], env, repo)
        pid = int(str(info["pid"]))
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def probe(tmp_path: Path, env: dict[str, str]) -> Iterator[Path]:
    """A probe server for an empty repo at ``tmp_path/probe``; the repo's root."""
    root = tmp_path / "probe"
    (root / "specs").mkdir(parents=True)
    (root / "overlays").mkdir()
    with open(tmp_path / "probe.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-c", PROBE_SERVER, str(root), "120"], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=log, env=env, start_new_session=True)
    try:
        _wait_for(lambda: locate.live_socket(str(root)) is not None or proc.poll() is not None, "the probe server")
        assert proc.poll() is None, (tmp_path / "probe.log").read_text()
        yield root
    finally:
        proc.terminate()
        try:
            proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(WAIT)


def _report(out: str) -> dict[str, object]:
    report: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return report


# -- units -----------------------------------------------------------------------------------------


def test_the_peer_check_refuses_another_user() -> None:
    me = os.getuid()
    assert server.peer_allowed(struct.pack("3i", 123, me, 1), me)
    assert not server.peer_allowed(struct.pack("3i", 123, me + 1, 1), me)
    assert not server.peer_allowed(struct.pack("3i", 123, 0, 0), me) or me == 0
    assert not server.peer_allowed(b"\0" * 8, me)  # not a struct ucred


def test_the_socket_is_in_the_cache_folder_or_a_private_temp_folder(short_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tmp_path = short_tmp
    monkeypatch.setenv("SERVESPEC_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    near = locate.socket_path("/repo")
    assert near == os.path.join(locate.state_dir("/repo"), "sock") and near.startswith(str(tmp_path / "c"))
    monkeypatch.setenv("SERVESPEC_CACHE_DIR", str(tmp_path / ("x" * 120)))
    far = locate.socket_path("/repo")
    assert far is not None and len(far.encode()) <= locate.MAX_SOCKET_PATH
    assert Path(far).parent.parent == tmp_path and Path(far).parent.name.startswith(f"servespec-{os.getuid()}-")
    monkeypatch.setenv("SERVESPEC_CACHE_DIR", str(tmp_path / ("y" * 120)))
    assert locate.socket_path("/repo") != far  # another cache folder, another daemon
    (tmp_path / ("t" * 100)).mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / ("t" * 100)))
    assert locate.socket_path("/repo") is None


def test_private_dir_refuses_a_link_and_tightens_its_own(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o755)
    server.private_dir(str(mine))
    assert mine.stat().st_mode & 0o777 == 0o700
    (tmp_path / "link").symlink_to(mine)
    with pytest.raises(PermissionError, match="not a folder of this user"):
        server.private_dir(str(tmp_path / "link"))


def test_which_commands_go_to_which_daemon(monkeypatch: pytest.MonkeyPatch) -> None:
    assert locate.root_arg(["render", "--root", "a"]) == "a"
    assert locate.root_arg(["--root", "a", "render", "--root=b"]) == "b"
    assert locate.root_arg(["render", "--root"]) is None
    assert locate.command_name(["--root", "daemon", "render"]) == "render"
    assert locate.command_name(["--debug", "--version"]) is None
    monkeypatch.delenv(locate.DISABLE_VAR, raising=False)
    assert locate.forwardable(["render"]) and not locate.forwardable(["--root", "r", "daemon", "status"])
    monkeypatch.setenv(locate.DISABLE_VAR, "1")
    assert not locate.forwardable(["render"])
    monkeypatch.setenv(locate.DISABLE_VAR, "0")
    assert locate.forwardable(["render"])


def test_a_malformed_request_is_named() -> None:
    good: dict[object, object] = {"argv": ["render"], "env": {b"A": b"1"}, "umask": 0o022, "streams": [["utf-8", "strict", False, False]] * 3}
    assert isinstance(request.parse_request(good, [3, 4, 5, 6]), request.Request)
    cases: list[tuple[dict[object, object], str]] = [
        ({**good, "argv": "render"}, "argv: expected a list of strings"),
        ({**good, "env": {"A": "1"}}, "env: expected a map of bytes to bytes"),
        ({**good, "umask": 0o7777}, "umask: expected a mode"),
        ({**good, "streams": [["utf-8", "strict", False]] * 3}, "streams: expected the settings of stdin, stdout and stderr"),
    ]
    for value, message in cases:
        assert request.parse_request(value, [3, 4, 5, 6]) == message
    assert request.parse_request(good, [3, 4, 5]) == "fds: expected 4 (stdin, stdout, stderr, the working folder), found 3"
    assert request.exit_status(None) == 0 and request.exit_status(3) == 3 and request.exit_status(256 + 2) == 2


def test_a_socket_nobody_listens_on_is_removed_unless_a_server_is_starting(short_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fcntl

    tmp_path = short_tmp
    monkeypatch.setenv("SERVESPEC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # a socket path too long for the cache folder stays in tmp_path too
    monkeypatch.setattr(client, "_streams_are_the_process_own", lambda: True)
    root = str(tmp_path / "repo")
    path = locate.socket_path(root)
    assert path is not None
    server.private_dir(locate.state_dir(root))
    server.private_dir(os.path.dirname(path))

    def dead_socket() -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.bind(path)  # bound, never listening: what a killed server leaves

    dead_socket()
    lock = os.open(locate.lock_path(root), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a server holds the lock: it is starting, its socket stays
        assert client.forward(root, ["render"]) is None
        assert locate.live_socket(root) == path
    finally:
        os.close(lock)
    assert client.forward(root, ["render"]) is None
    assert locate.live_socket(root) is None and not os.path.lexists(path)
    assert os.path.isdir(os.path.dirname(path)) == (os.path.dirname(path) == locate.state_dir(root))  # a temp folder: removed
    assert client.request(root, {"kind": "status"}, 1.0) is None


def test_start_and_stop_say_why_they_cannot(short_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tmp_path = short_tmp
    root = copy_example(tmp_path / "repo")
    monkeypatch.setattr(wire, "SUPPORTED", False)
    out = run_cli("daemon", "start", "--root", root)
    assert (out.exit_code, out.stderr) == (2, "servespec: error: servespec daemon needs Unix sockets with SO_PEERCRED (Linux); "
                                              "commands run in-process here\n")
    monkeypatch.setattr(wire, "SUPPORTED", True)
    long_tmp = tmp_path / "t" / ("u" * 100)
    long_tmp.mkdir(parents=True)
    monkeypatch.setenv("TMPDIR", str(long_tmp))
    monkeypatch.setenv("SERVESPEC_CACHE_DIR", str(tmp_path / ("c" * 100)))
    out = run_cli("daemon", "start", "--root", root)
    assert (out.exit_code, out.stderr) == (2, "servespec: error: no socket path short enough for the daemon (at most 100 bytes) in the "
                                              "cache folder or the temporary folder: set SERVESPEC_CACHE_DIR or TMPDIR to a shorter path\n")
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("SERVESPEC_CACHE_DIR", str(tmp_path / "file"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    out = run_cli("daemon", "start", "--root", root)
    state = locate.state_dir(str(root))
    assert (out.exit_code, out.stderr) == (2, f"servespec: error: {state}: cannot keep the daemon's files there: Not a directory\n")

    monkeypatch.setattr(client, "request", lambda *a: None)
    monkeypatch.setattr(control, "_server_pid", lambda root: 4242)
    monkeypatch.setattr(control, "_ended", lambda pid, wait: False)
    killed: list[tuple[int, int]] = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: killed.append((pid, sig)))
    out = run_cli("daemon", "stop", "--root", root)
    assert (out.exit_code, out.stderr) == (2, f"servespec: error: the daemon (pid 4242) did not end within 10 s of SIGTERM; "
                                              f"its log: {locate.log_path(str(root))}\n")
    assert killed == [(4242, signal.SIGTERM)]


# -- the probe: what a forwarded command is given ----------------------------------------------------


@pytest.mark.slow
def test_a_command_gets_the_clients_streams_folder_environment_and_umask(probe: Path, env: dict[str, str], tmp_path: Path) -> None:
    sub = tmp_path / "probe" / "specs"
    out = subprocess.run([sys.executable, "-m", "servespec", "probe", "exit", "7"], cwd=sub, env={**env, "PROBE": "from the client"},
                         capture_output=True, text=True, timeout=WAIT, umask=0o027)
    assert out.returncode == 7, out.stderr
    report = _report(out.stdout)
    assert report["argv"] == ["probe", "exit", "7"] and report["cwd"] == str(sub.resolve())
    assert report["probe"] == "from the client" and report["no_daemon"] == "1" and report["umask"] == 0o027
    assert report["isatty"] == [False, False, False] and report["line_buffering"] is False
    assert out.stderr == "to stderr\n"
    again = subprocess.run([sys.executable, "-m", "servespec", "probe"], cwd=sub, env=env, capture_output=True, text=True, timeout=WAIT)
    assert again.returncode == 0 and _report(again.stdout)["probe"] is None  # the server's own environment came back

    primary, secondary = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "servespec", "probe"], cwd=sub, env=env, stdout=secondary,
                              stderr=subprocess.PIPE, timeout=WAIT)
        assert proc.returncode == 0, proc.stderr
        data = b""
        while select.select([primary], [], [], 0.5)[0]:
            data += os.read(primary, 65536)
    finally:
        os.close(primary)
        os.close(secondary)
    tty = _report(data.decode().replace("\r\n", "\n"))
    assert tty["isatty"] == [False, True, False] and tty["stdout_tty"] is True and tty["line_buffering"] is True


@pytest.mark.slow
def test_a_closed_pipe_a_bug_and_a_refusal(probe: Path, env: dict[str, str], tmp_path: Path) -> None:
    r, w = os.pipe()
    os.close(r)
    try:
        out = subprocess.run([sys.executable, "-m", "servespec", "probe"], cwd=probe, env=env, stdout=w, stderr=subprocess.PIPE,
                             text=True, timeout=WAIT)
    finally:
        os.close(w)
    assert out.returncode == 120  # as Python ends when it cannot flush its output
    assert out.stderr == ("to stderr\nException ignored in: <_io.TextIOWrapper name='<stdout>' mode='w' encoding='utf-8'>\n"
                          "BrokenPipeError: [Errno 32] Broken pipe\n")

    bug = servespec_run(["probe", "boom"], env, probe)
    log = tmp_path / "probe.log"
    assert bug.returncode == 1
    assert bug.stderr == f"servespec: internal error in the daemon: ValueError: boom\\nsecond line (its log: {locate.log_path(str(probe))})\n"
    assert "Traceback" in log.read_text() and "ValueError: boom" in log.read_text()
    assert servespec_run(["probe"], env, probe).returncode == 0  # still serving

    off = servespec_run(["probe"], {**env, locate.DISABLE_VAR: "1"}, probe)
    assert off.returncode == 2 and "No such command 'probe'" in off.stderr  # ran here: servespec has no such command
    other = servespec_run(["probe"], {**env, "PYTHONPATH": f"{GENERATOR}{os.pathsep}{tmp_path / 'elsewhere'}"}, probe)
    assert other.returncode == 2 and "No such command 'probe'" in other.stderr  # another import path: refused, ran here
    _wait_for(lambda: locate.live_socket(str(probe)) is None, "the refusing server to end")
    assert "refused a command: the client's path is" in log.read_text()


@pytest.mark.slow
def test_ctrl_c_interrupts_the_command_and_a_vanished_client_does_not_end_the_server(probe: Path, env: dict[str, str]) -> None:
    for how in (signal.SIGINT, signal.SIGKILL):
        proc = subprocess.Popen([sys.executable, "-m", "servespec", "probe", "sleep"], cwd=probe, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None and proc.stdout.readline() == "started\n"
            proc.send_signal(how)
            _out, err = proc.communicate(timeout=WAIT)
        finally:
            proc.kill()
            proc.wait(WAIT)
        if how == signal.SIGINT:
            assert proc.returncode == 2 and err == "servespec: aborted\n"
        after = servespec_run(["probe"], env, probe)
        assert after.returncode == 0, after.stderr  # the server lived through it, and is free again

    busy = subprocess.Popen([sys.executable, "-m", "servespec", "probe", "sleep"], cwd=probe, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert busy.stdout is not None and busy.stdout.readline() == "started\n"
        queued = subprocess.Popen([sys.executable, "-m", "servespec", "probe", "exit", "9"], cwd=probe, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)  # connected, waiting for the busy server to take it
        queued.send_signal(signal.SIGINT)
        out, err = queued.communicate(timeout=WAIT)
        assert (queued.returncode, out, err) == (2, "", "servespec: aborted\n")  # before the server took it: nothing ran
        busy.send_signal(signal.SIGINT)
        busy.communicate(timeout=WAIT)
    finally:
        busy.kill()
        busy.wait(WAIT)
    log = (probe.parent / "probe.log").read_text()
    assert "-> exit 9" not in log and "dropped a connection" in log  # the queued command never ran


@pytest.mark.slow
def test_a_server_that_dies_during_a_command_is_reported_not_run_again(probe: Path, env: dict[str, str]) -> None:
    out = servespec_run(["probe", "die"], env, probe)
    assert (out.returncode, out.stdout) == (1, "")
    assert out.stderr == f"servespec: error: the daemon ended during the command (its log: {locate.log_path(str(probe))})\n"
    gone = servespec_run(["probe"], env, probe)
    assert gone.returncode == 2 and "No such command 'probe'" in gone.stderr  # the socket was stale: removed, ran here
    assert locate.live_socket(str(probe)) is None


# -- the real daemon -------------------------------------------------------------------------------


def _equal(a: subprocess.CompletedProcess[str], b: subprocess.CompletedProcess[str], here: Path, there: Path) -> None:
    def norm(text: str | None) -> str:
        return (text or "").replace(str(there), "ROOT").replace(str(here), "ROOT")

    assert (a.returncode, norm(a.stdout), norm(a.stderr)) == (b.returncode, norm(b.stdout), norm(b.stderr)), a.args


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted((root / "rendered").rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_forwarded_commands_give_what_in_process_ones_give(daemon: dict[str, object], repo: Path, env: dict[str, str],
                                                           tmp_path: Path) -> None:
    here = copy_example(tmp_path / "a" / "repo")  # the same repo, for in-process runs
    for root in (here,):
        git(root, "init", "-q", "-b", "main")
        git(root, "add", "-A")
        git(root, "commit", "-qm", "initial")
    spec = "specs/sklearn_iris.py"
    steps: list[tuple[str, list[str]]] = [
        ("", ["render"]), ("", ["render"]), ("", ["validate"]), ("", ["status", "--output", "json"]),
        ("edit", ["render"]), ("", ["diff"]), ("", ["render", "--check"]),
        ("break", ["render"]), ("fix", ["render"]),
        ("drift", ["render", "--check"]), ("", ["validate"]), ("", ["diff", "--format", "markdown"]), ("", ["render"]),
    ]
    for count, (change, args) in enumerate(steps, start=1):
        for root in (here, repo):
            path = root / spec
            if change == "edit":
                path.write_text(path.read_text().replace("max_replicas=4", "max_replicas=6"))
            elif change == "break":
                path.write_text(path.read_text() + "\nBROKEN = Model(name='Not_A_DNS_name')\n")
            elif change == "fix":
                path.write_text(path.read_text().replace("\nBROKEN = Model(name='Not_A_DNS_name')\n", ""))
            elif change == "drift":
                target = next((root / "rendered" / "dev").rglob("inferenceservice.yaml"))
                target.write_text(target.read_text() + "# drift\n")
        _equal(in_process(args, env, here), servespec_run(args, env, repo), here, repo)
        assert served(repo) == count, args  # it was the daemon that answered
    assert _tree(here) == _tree(repo)
    for args in (["render"], ["status"]):  # a reader that went away: the fast path's exit and click's
        results = []
        for root, run_env in ((here, {**env, locate.DISABLE_VAR: "1"}), (repo, env)):
            r, w = os.pipe()
            os.close(r)
            try:
                results.append(servespec_run(args, run_env, root, stdout=w))
            finally:
                os.close(w)
        _equal(results[0], results[1], here, repo)
        assert results[0].returncode == (120 if args == ["render"] else 1)


@pytest.mark.slow
def test_the_environment_and_a_relative_root_are_the_clients(daemon: dict[str, object], repo: Path, env: dict[str, str],
                                                             tmp_path: Path) -> None:
    (repo / "specs" / "probe_model.py").write_text(
        "import os\nfrom servespec.spec import Model, Predictor, Resources\n\n"
        "PROBE = Model(name=os.environ['PROBE_MODEL'], predictor=Predictor(model_format='sklearn', "
        "storage_uri='gs://kfserving-examples/models/sklearn/1.0/model', "
        "resources=Resources(limits={'cpu': '1', 'memory': '1Gi'})))\n")
    out = servespec_run(["render", "--root", "b/repo"], {**env, "PROBE_MODEL": "from-the-client"}, tmp_path)
    assert out.returncode == 0, out.stderr
    assert any((repo / "rendered" / "dev").rglob("*from-the-client*")), sorted(p.name for p in (repo / "rendered" / "dev").iterdir())
    assert served(repo) == 1


@pytest.mark.slow
def test_changed_code_is_never_served(repo: Path, env: dict[str, str], tmp_path: Path) -> None:
    copy = tmp_path / "code"
    shutil.copytree(Path(GENERATOR) / "servespec", copy / "servespec", ignore=shutil.ignore_patterns("__pycache__"))
    env = {**env, "PYTHONPATH": str(copy), "PYTHONPYCACHEPREFIX": str(tmp_path / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    started = servespec_run(["daemon", "start", "--root", str(repo), "--idle-timeout", "120"], env, repo)
    assert started.returncode == 0, started.stderr
    pid = int(json.loads(servespec_run(["daemon", "status", "--output", "json"], env, repo).stdout)["pid"])
    try:
        first = servespec_run(["render"], env, repo)
        assert served(repo) == 1
        module = copy / "servespec" / "quantity.py"
        module.write_text(module.read_text() + "\n# edited while the daemon runs\n")
        second = servespec_run(["render"], env, repo)
        assert (second.returncode, second.stdout, second.stderr) == (first.returncode, first.stdout, first.stderr)
        _wait_for(lambda: not _alive(pid), "the server to end")
        assert served(repo) == -1 and locate.live_socket(str(repo)) is None
        assert "servespec's code changed since the server started" in Path(locate.log_path(str(repo))).read_text()
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_start_stop_status_and_the_idle_timeout(repo: Path, env: dict[str, str]) -> None:
    assert servespec_run(["daemon", "status"], env, repo).stdout == f"servespec daemon: not running for {repo}\n"
    assert servespec_run(["daemon", "stop"], env, repo).stdout == f"servespec daemon: not running for {repo}\n"
    first = servespec_run(["daemon", "start", "--idle-timeout", "6"], env, repo)
    assert first.returncode == 0 and first.stdout.startswith(f"servespec daemon: started for {repo} (pid "), first.stderr
    info = json.loads(servespec_run(["daemon", "status", "--output", "json"], env, repo).stdout)
    pid = int(info["pid"])
    try:
        assert info["running"] and info["requests"] == 0 and info["idle_timeout"] == 6.0 and info["code"]
        socket_file = Path(str(info["socket"]))
        assert socket_file.is_socket() and socket_file.parent.stat().st_mode & 0o777 == 0o700
        assert socket_file == Path(locate.state_dir(str(repo))) / "sock" or socket_file.parent.name.startswith("servespec-")
        second = servespec_run(["daemon", "start"], env, repo)
        assert second.returncode == 0 and second.stdout.startswith(f"servespec daemon: already running for {repo} (pid {pid})")
        text = servespec_run(["daemon", "status"], env, repo).stdout
        assert text.startswith(f"servespec daemon: running for {repo} (pid {pid}, up ") and "code: servespec" in text
        _wait_for(lambda: not _alive(pid), "the idle timeout")
        assert not socket_file.exists() and "exiting: idle for 6 s" in Path(locate.log_path(str(repo))).read_text()
        assert socket_file.parent.is_dir() == (socket_file.parent == Path(locate.state_dir(str(repo))))  # a temp folder: removed

        import fcntl

        lock = os.open(locate.lock_path(str(repo)), os.O_RDWR)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)  # as another server would: the one launched cannot start
            refused = servespec_run(["daemon", "start"], env, repo)
        finally:
            os.close(lock)
        assert refused.returncode == 2
        assert refused.stderr.startswith(f"servespec: error: the daemon did not start (its log: {locate.log_path(str(repo))}; last line: ")
        assert refused.stderr.endswith("not started: another daemon of this repo is running)\n")

        again = servespec_run(["daemon", "start"], env, repo)
        pid = int(json.loads(servespec_run(["daemon", "status", "--output", "json"], env, repo).stdout)["pid"])
        assert again.returncode == 0
        stopped = servespec_run(["daemon", "stop"], env, repo)
        assert stopped.stdout == f"servespec daemon: stopped (pid {pid})\n" and not _alive(pid)
        assert json.loads(servespec_run(["daemon", "status", "--output", "json"], env, repo).stdout) == {"running": False, "root": str(repo)}
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _ctrl_c_soon() -> object:
    """A Ctrl-C (KeyboardInterrupt in the main thread) 0.2 s from now; returns the old handler."""
    def raise_interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt
    old = signal.signal(signal.SIGALRM, raise_interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    return old


@pytest.mark.parametrize("then", ["runs", "refuses"])
def test_a_ctrl_c_before_the_acknowledgement_goes_to_the_server(then: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The client has sent its fds: the server may already run the command, so a Ctrl-C then is
    the server's to act on (one "aborted", from the command); a refusal after it runs nothing."""
    import threading

    ours, theirs = socket.socketpair()
    theirs.settimeout(5)

    def fake_server() -> None:
        assert theirs.recv(1) == wire.INTERRUPT
        if then == "runs":
            wire.send(theirs, {"ack": True})
            wire.send(theirs, {"exit": 2})
        else:
            wire.send(theirs, {"refused": "servespec's code changed"})

    thread = threading.Thread(target=fake_server)
    thread.start()
    old = _ctrl_c_soon()
    try:
        code = client._exit_code(ours, "/nowhere")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)  # type: ignore[arg-type]
        thread.join(5)
        ours.close()
        theirs.close()
    assert code == 2
    assert capsys.readouterr().err == ("" if then == "runs" else "servespec: aborted\n")


def test_a_refusal_after_the_fds_runs_the_command_here() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        wire.send(theirs, {"refused": "servespec's code changed"})
        assert client._exit_code(ours, "/nowhere") is None
