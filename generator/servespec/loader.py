"""Load ``specs/*.py``: import each module under a fresh name and collect what it declares.

A spec module only declares: module-level ``Model``, storage endpoint (``S3Storage``, ``GCSStorage`` ...),
``LLM`` and ``InferenceGraph`` instances (or lists of them); a ``Runtime`` through the models using it.
``_modules`` are helpers others import, not collected. A module that fails to import is reported as that
file's error, with the line that raised, never as "not found".

Spec modules are code, and code can end the process that imports it. So they are imported one
after the other in a forked child that sends each module's declarations back (pickle over a
pipe). Whatever a module does becomes that file's error (exit 2), never the end of servespec:

- any exception, ``KeyboardInterrupt`` and ``SystemExit`` included: the line that raised;
- ``os._exit``, ``os.abort``, ``signal.raise_signal``, ``os.kill``/``os.killpg`` aimed at the child
  or servespec: refused in the child, reported at the calling line;
- a crash (segfault) or a kill from outside: "ended the process", at the line the interpreter's
  fault handler saw, when it could;
- a hang: past ``SERVESPEC_SPEC_TIMEOUT`` seconds for one module (default 5) the child prints
  where it is and is killed; the module is reported at that line.

A new child takes over after a module that ended the last one, so every file is reported.
Without ``os.fork`` (Windows), modules are imported in-process and only exceptions are caught.
"""

from __future__ import annotations

import gc
import hashlib
import importlib.util
import io
import os
import pickle
import re
import select
import signal
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn
from collections.abc import Callable

from pydantic import ValidationError

try:  # pragma: no cover - every supported system but Windows
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

from .childio import FrameReader, drain, flush_std, fork, write_frame
from .errors import Problem, SpecError, UsageError
from .spec import LLM, AzureStorage, GCSStorage, HTTPStorage, HuggingFaceStorage, InferenceGraph, Model, S3Storage
from .spec.base import build_all
from .specset import Declaration, SpecSet, merged
from .specset import Outcome as _Outcome
from .specguard import DUMP_SIGNAL, ProcessEnd, guard_child, signal_name
from .validation_messages import describe_pydantic_error
from .zygote import Zygote

__all__ = ["SpecSet", "load_specs", "spec_timeout", "TIMEOUT_VAR", "DEFAULT_TIMEOUT"]

TIMEOUT_VAR = "SERVESPEC_SPEC_TIMEOUT"
"""Environment variable: seconds one spec module may take to import."""
DEFAULT_TIMEOUT = 5.0
_PIPE_SIZE = 1 << 20
"""Bytes the pipe from the importing child holds while this process runs ``meanwhile``: 1,000
models' declarations are ~0.5 MB."""

_BASELINE: set[str] = set()
"""Modules loaded before the first spec module (servespec and its libraries): not dependencies."""


def spec_timeout() -> float:
    """Seconds a spec module may take to import: ``$SERVESPEC_SPEC_TIMEOUT`` or 5."""
    raw = os.environ.get(TIMEOUT_VAR, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < 86400:
        raise UsageError(Problem("", None, TIMEOUT_VAR, f"expected a number of seconds > 0, found {raw!r}"))
    return value


def load_specs(root: Path, kept: dict[Path, _Outcome] | None = None, meanwhile: Callable[[], None] | None = None,
               begun: Begun | None = None) -> SpecSet:
    """Import every spec module below ``root/specs`` and collect its declarations; modules with
    a ``kept`` outcome (``cache/specs.py``: source and imports unchanged) are not imported again.
    ``meanwhile()`` runs in this process while a child imports (at once when none does): other
    start-up work (``project.py``: the overlays) overlaps the import instead of following it.
    ``begun``: the child :func:`begin_import` started for these modules (abandoned when the
    modules to import are others by now)."""
    specs_dir = root / "specs"
    if not specs_dir.is_dir():
        raise SpecError(Problem("specs/", None, "", "expected a specs/ folder with Python modules, found none"))
    files, todo = _todo(specs_dir, kept)
    timeout = spec_timeout()
    if begun is not None and begun.files != todo:
        begun.abandon()  # begun for other files (one appeared or went meanwhile): import afresh
        begun = None
    if not todo or not hasattr(os, "fork"):
        (meanwhile or _nothing)()
        meanwhile = None
    if hasattr(os, "fork"):
        found = _import_isolated(todo, specs_dir, timeout, meanwhile, begun)
    else:
        found = _import_here(todo, specs_dir)
    outcomes = {**(kept or {}), **dict(zip(todo, found, strict=True))}
    result, problems = merged(root, files, outcomes)
    result.files = sorted(specs_dir.glob("*.py"))
    if problems:
        raise SpecError(problems)
    return result


# -- importing one module (in whichever process) -------------------------------------------------
def _import_one(path: Path) -> _Outcome:
    """Import one spec module; every exception becomes a located problem of its file."""
    display = f"specs/{path.name}"
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    name = f"_servespec_spec_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        return _Outcome(problems=[Problem(display, exc.lineno, "", f"syntax error: {exc.msg}")])
    except ValidationError as exc:
        line, described = _line_in(exc, path), [describe_pydantic_error(dict(e)) for e in exc.errors()]
        return _Outcome(problems=[Problem(display, line, f"{exc.title}.{where}".rstrip("."), what) for where, what in described])
    except ProcessEnd as exc:
        return _Outcome(problems=[Problem(display, _line_in(exc, path), "", f"importing the spec tried to end the process: {exc}")])
    except BaseException as exc:  # a spec module may raise anything, KeyboardInterrupt too: its error
        line, said = _line_in(exc, path), _text(exc)
        msg = f"importing the spec raised {type(exc).__name__}" + (f": {said}" if said else "")
        return _Outcome(problems=[Problem(display, line, "", msg)])
    return _Outcome(items=_declared(module), deps=_imported_files())


def _imported_files() -> list[str]:
    """Files of the modules loaded since :data:`_BASELINE`, spec modules themselves aside."""
    mods = [m for name, m in list(sys.modules.items()) if name not in _BASELINE and not name.startswith("_servespec_spec_")]
    return sorted({f for m in mods if isinstance(f := getattr(m, "__file__", None), str)})


def _text(exc: BaseException) -> str:
    """``str(exc)``, even when the exception's own ``__str__`` fails."""
    try:
        return str(exc)
    except Exception:  # noqa: BLE001 - a spec's exception class may be broken too
        return f"<{type(exc).__name__} that cannot be printed>"


def _line_in(exc: BaseException, path: Path) -> int | None:
    """The deepest line of ``path`` in the traceback of ``exc``."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename) == path:
            line = frame.lineno
    return line


def _declared(module: ModuleType) -> list[Declaration]:
    """The module's public ``Model``/storage/``LLM``/``InferenceGraph`` values (also inside lists), in name order."""
    found: list[Declaration] = []
    for attr, value in sorted(vars(module).items()):
        if attr.startswith("_"):
            continue
        items: list[Any] = list(value) if isinstance(value, (list, tuple)) else [value]
        found.extend(i for i in items if isinstance(i, (Model, S3Storage, GCSStorage, AzureStorage, HuggingFaceStorage, HTTPStorage, LLM, InferenceGraph)))
    return found


def _nothing() -> None:
    pass


def _import_here(files: list[Path], specs_dir: Path) -> list[_Outcome]:
    """Import in this process (no ``os.fork``): exceptions are caught, hard exits are not."""
    before = set(sys.modules)
    _BASELINE.clear()
    _BASELINE.update(before)
    sys.path.insert(0, str(specs_dir))
    try:
        return [_import_one(path) for path in files]
    finally:
        sys.path.remove(str(specs_dir))
        for name in set(sys.modules) - before:
            mod_file = getattr(sys.modules[name], "__file__", None) or ""
            if name.startswith("_servespec_spec_") or mod_file.startswith(str(specs_dir)):
                del sys.modules[name]


# -- the child process ----------------------------------------------------------------------------
class Begun:
    """An import of spec modules begun before its caller waits for it (:func:`begin_import`)."""

    def __init__(self, files: list[Path], child: tuple[int, int, int]):
        self.files, self.child = files, child
        self.taken = False

    def abandon(self) -> None:
        """Stop and reap the child unless :func:`load_specs` took it over (an error came first)."""
        if not self.taken:
            self.taken = True
            pid, data_r, dump_r = self.child
            _reap(pid, "stopped", dump_r)
            os.close(data_r)
            os.close(dump_r)


def begin_import(root: Path, kept: dict[Path, _Outcome] | None = None) -> Begun | None:
    """Fork the child that imports the spec modules ``kept`` does not hold, now, so that the
    caller's own start-up (``cli/render.py``: importing the render's modules) overlaps it; give
    the result to :func:`load_specs`. None when nothing is to be imported in a child."""
    specs_dir = root / "specs"
    if not specs_dir.is_dir() or not hasattr(os, "fork"):
        return None
    todo = _todo(specs_dir, kept)[1]
    return Begun(todo, _spawn(todo, specs_dir, True)) if todo else None


def _todo(specs_dir: Path, kept: dict[Path, _Outcome] | None) -> tuple[list[Path], list[Path]]:
    """The spec modules (``_helper.py`` files are not: spec modules import them), and those
    without a ``kept`` outcome."""
    files = sorted(p for p in specs_dir.glob("*.py") if not p.name.startswith("_"))
    return files, [p for p in files if p not in (kept or {})]


def _import_isolated(files: list[Path], specs_dir: Path, timeout: float, meanwhile: Callable[[], None] | None = None,
                     begun: Begun | None = None) -> list[_Outcome]:
    """Import ``files`` in forked children (``meanwhile()`` runs here once the first one is
    started; ``begun``: the first one, started earlier); a child that ends early is replaced
    after the module that ended it, so every file gets an outcome."""
    outcomes: list[_Outcome] = []
    child = None
    if begun is not None:
        begun.taken, child = True, begun.child
    while len(outcomes) < len(files):
        outcomes.extend(_run_child(files[len(outcomes):], specs_dir, timeout, meanwhile, child))
        meanwhile = child = None
    return outcomes


def _run_child(files: list[Path], specs_dir: Path, timeout: float, meanwhile: Callable[[], None] | None = None,
               child: tuple[int, int, int] | None = None) -> list[_Outcome]:
    """Fork one child for ``files`` (or take ``child``, forked for them), run ``meanwhile()``
    here, read what the child sends; the outcomes it delivered, ending with the module it died in."""
    pid, data_r, dump_r = child if child is not None else _spawn(files, specs_dir, meanwhile is not None)
    outcomes: list[_Outcome] = []
    how = "stopped"
    try:
        if meanwhile is not None:
            meanwhile()
        how = _read_child(data_r, files, timeout, outcomes)
    finally:  # also on KeyboardInterrupt in this process: no child outlives the call
        status = _reap(pid, how, dump_r)
        os.close(data_r)
    dump = drain(dump_r)
    if how in ("late", "ended") and len(outcomes) < len(files):
        outcomes.append(_ended(files[len(outcomes)], dump, status, timeout, how == "late"))
    return outcomes


def _spawn(files: list[Path], specs_dir: Path, busy: bool) -> tuple[int, int, int]:
    """Fork the child importing ``files``: its pid, the ends of its data and dump pipes. ``busy``:
    this process does other work before it reads, so what the child sends waits in the pipe."""
    data_r, data_w = os.pipe()
    dump_r, dump_w = os.pipe()
    if busy:
        try:
            fcntl.fcntl(data_w, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
        except (OSError, AttributeError):  # not Linux, or above /proc/sys/fs/pipe-max-size: the child waits sooner
            pass
    flush_std()
    pid = ZYGOTE.spawn((files, specs_dir, os.getpid(), _state()), [data_w, dump_w, 0, 1, 2]) if ZYGOTE.live else None
    if pid is None:
        build_all()  # the child constructs models with every validator built (and so does every later fork)
        pid = fork()
        if pid == 0:  # pragma: no cover - runs in the child, measured by the tests through its effects
            os.close(data_r)
            os.close(dump_r)
            _child(files, specs_dir, data_w, dump_w)
    os.close(data_w)
    os.close(dump_w)
    return pid, data_r, dump_r


def _read_child(fd: int, files: list[Path], timeout: float, outcomes: list[_Outcome]) -> str:
    """Read the child's outcomes (one frame per module, in order) into ``outcomes``. Returns
    ``done`` (all read), ``late`` (the next module ran out of time), ``ended`` (the child ended
    while importing it) or ``stopped`` (a module's declarations could not travel; the child ends)."""
    reader = FrameReader(fd)
    feed = io.BytesIO()
    unpickler = pickle.Unpickler(feed)  # one memo for the child's stream: shared objects stay shared
    while len(outcomes) < len(files):
        try:
            frame = reader.next(time.monotonic() + timeout)
        except TimeoutError:
            return "late"
        if frame is None:
            return "ended"
        path = files[len(outcomes)]
        try:
            if frame[:1] == b"x":  # standalone: this module's declarations could not be pickled
                outcomes.append(pickle.loads(frame[1:]))
                return "stopped"
            feed.seek(0)
            feed.truncate()
            feed.write(frame[1:])
            feed.seek(0)
            items, problems, deps = unpickler.load()
        except Exception as exc:  # noqa: BLE001 - whatever the stream holds, it is that module's error
            msg = f"importing the spec worked, but its declarations cannot be read back ({type(exc).__name__}: {exc})"
            outcomes.append(_Outcome(problems=[Problem(f"specs/{path.name}", None, "", msg)]))
            return "stopped"
        outcomes.append(_Outcome(items, problems, deps))
    return "done"


ZYGOTE = Zygote()
"""The process that forks the importers when this one is a daemon (``start_zygote``), else none."""


def start_zygote() -> None:
    """From now on, spec modules are imported in children of a small process forked now, with
    every spec class built (``zygote.py``): for a daemon, before it reads any repo."""
    if hasattr(os, "fork") and not ZYGOTE.live:
        ZYGOTE.start(_zygote_child, build_all)


def _state() -> tuple[dict[bytes, bytes], str | None, int, list[str]]:
    """What a child forked here would inherit besides its descriptors: environment, folder, umask,
    argv (a daemon's command runs in its client's: ``daemon/request.py``)."""
    umask = os.umask(0)
    os.umask(umask)
    return dict(os.environb), os.getcwd() if os.path.isdir(".") else None, umask, list(sys.argv)


def _zygote_child(payload: tuple[list[Path], Path, int, Any], fds: list[int]) -> NoReturn:  # pragma: no cover - child only
    """A child of the zygote: this process's state made the requester's (:func:`_state`, its
    standard streams), then the importer's life."""
    files, specs_dir, daemon, (env, cwd, umask, argv) = payload
    try:
        for n in range(3):
            os.dup2(fds[2 + n], n)
            os.close(fds[2 + n])
        os.environb.clear()
        os.environb.update(env)
        time.tzset()
        if cwd is not None:
            os.chdir(cwd)
        os.umask(umask)
        sys.argv = argv
    except BaseException:  # noqa: BLE001 - never let the child return into the zygote's code
        os._exit(70)
    _child(files, specs_dir, fds[0], fds[1], daemon)


def _child(files: list[Path], specs_dir: Path, data_w: int, dump_w: int, daemon: int = 0) -> NoReturn:  # pragma: no cover
    """The child's whole life: import each module, send its outcome, end without cleanup."""
    real_exit = os._exit
    code = 0
    try:
        gc.freeze()  # the collector leaves the inherited heap alone: no copy-on-write of every page
        guard_child(dump_w, daemon)
        _BASELINE.update(sys.modules)
        sys.path.insert(0, str(specs_dir))
        buf = io.BytesIO()
        pickler = pickle.Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL)
        for path in files:
            display = f"specs/{path.name}"
            outcome = _foreign_checked(_import_one(path), display)
            try:
                pickler.dump((outcome.items, outcome.problems, outcome.deps))
            except Exception as exc:  # noqa: BLE001 - the stream's memo is now unusable: send this, then end
                msg = f"importing the spec worked, but its declarations cannot be sent back ({type(exc).__name__}: {exc})"
                write_frame(data_w, b"x" + pickle.dumps(_Outcome(problems=[Problem(display, None, "", msg)])))
                break
            write_frame(data_w, b"o" + buf.getvalue())
            buf.seek(0)
            buf.truncate()
        flush_std()
    except BaseException:  # noqa: BLE001 - never let the child return into the caller's code
        code = 70
    real_exit(code)


def _foreign_checked(outcome: _Outcome, display: str) -> _Outcome:
    """Instances of classes defined in specs/ cannot be rebuilt in the parent: say so."""
    foreign = sorted({type(i).__qualname__ for i in outcome.items if not type(i).__module__.startswith("servespec.")})
    if not foreign:
        return outcome
    msg = (f"expected instances of servespec.spec classes, found {', '.join(foreign)} (a class defined in specs/ "
           "cannot leave the process that imports the specs)")
    return _Outcome(problems=[Problem(display, None, "", msg)])


# -- plumbing ---------------------------------------------------------------------------------------
def _ended(path: Path, dump: str, status: int, timeout: float, timed_out: bool) -> _Outcome:
    """The problem of a module whose import ended the child."""
    display = f"specs/{path.name}"
    line = None
    for match in re.finditer(r'File "(.*)", line (\d+)', dump):
        if Path(match.group(1)) == path:
            line = int(match.group(2))
            break  # most recent call first: the first frame of the module is the deepest
    if timed_out:
        msg = f"importing the spec did not finish within {timeout:g} s (set {TIMEOUT_VAR} to allow longer)"
    elif os.WIFSIGNALED(status):
        msg = f"importing the spec ended the process (signal {signal_name(os.WTERMSIG(status))})"
    else:
        msg = f"importing the spec ended the process (exit status {os.waitstatus_to_exitcode(status)})"
    return _Outcome(problems=[Problem(display, line, "", msg)])


def _reap(pid: int, how: str, dump_fd: int) -> int:
    """The child's wait status. ``done``: it delivered everything and is ending, wait for it
    (a child of the zygote is its to reap). ``late``: past its time; its fault handler is asked
    where it is, then it is killed. ``stopped``: killed. ``ended``: it closed the pipe; it is
    given a moment, then killed."""
    ours = ZYGOTE.pid == 0 or not ZYGOTE.live

    def wait(timeout: float) -> int | None:
        if not ours:
            return ZYGOTE.status(pid, timeout)
        deadline = time.monotonic() + timeout
        while True:
            done, status = os.waitpid(pid, os.WNOHANG if timeout < 60 else 0)
            if done or time.monotonic() >= deadline:
                return status if done else None
            time.sleep(0.005)

    if how == "done":
        return (wait(3600.0) or 0) if ours else 0
    if how in ("late", "stopped"):
        if how == "late":
            os.kill(pid, DUMP_SIGNAL)
            if select.select([dump_fd], [], [], 1.0)[0]:
                time.sleep(0.05)  # the rest of the stack
        os.kill(pid, signal.SIGKILL)
        return wait(3600.0) or 0
    status = wait(0.5)
    if status is None:
        os.kill(pid, signal.SIGKILL)
        status = wait(3600.0)
    return status or 0
