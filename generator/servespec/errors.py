"""The whole exception tree of servespec, and the one-line ``Problem`` every error is made of.

Exit codes: ``UsageError``/``SpecError`` (bad input) -> 2; ``CheckFailed`` (drift, invalid
objects, a failed gate; ``Refused``/``Closed``: what the promotion policy refuses) -> 1;
``NotDecided`` (a promote that cannot be decided yet: bake time, a canary not live, too little
traffic; nothing committed) -> 3. The CLI catches
``ServespecError`` once, prints one line per problem (``servespec: <label>: ...``) and shows a
traceback only with ``--debug``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "Problem",
    "ServespecError",
    "SpecError",
    "UsageError",
    "CheckFailed",
    "RenderError",
    "PromoteError",
    "GitError",
    "PushFailed",
    "RaceLost",
    "NotDecided",
    "NotDue",
    "one_line",
    "Waiting",
    "Refused",
    "Closed",
]


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong, located: ``file:line: field.path: message``."""

    file: str = ""
    line: int | None = None
    field: str = ""
    message: str = ""

    def __str__(self) -> str:
        where = self.file
        if where and self.line:
            where = f"{where}:{self.line}"
        parts = [p for p in (where, self.field) if p]
        return one_line(": ".join([*parts, self.message]))


def one_line(text: str) -> str:
    """Escape newlines and other unprintable characters so a problem stays one line."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


class ServespecError(Exception):
    """Base of every error servespec raises on purpose."""

    exit_code = 2
    label = "error"
    """How the CLI prefixes each problem line (``servespec: error: ...``)."""

    def __init__(self, problems: str | Problem | Iterable[Problem | str]):
        if isinstance(problems, (str, Problem)):
            problems = [problems]
        self.problems: list[Problem] = [
            p if isinstance(p, Problem) else Problem(message=p) for p in problems
        ]
        super().__init__("\n".join(str(p) for p in self.problems))


class UsageError(ServespecError):
    """Bad command-line input: unknown env or model, missing option (exit 2)."""


class SpecError(ServespecError):
    """A spec module or overlay is wrong (exit 2)."""


class RenderError(ServespecError):
    """The specs are individually valid but cannot be rendered together (exit 2)."""


class PromoteError(ServespecError):
    """A rollout command cannot proceed because of its input or state (exit 2)."""


class GitError(ServespecError):
    """The git repository is not in a state a command can work with (exit 2)."""


class CheckFailed(ServespecError):
    """A check found problems: drift, invalid objects, a failed gate (exit 1)."""

    exit_code = 1


class Refused(CheckFailed):
    """The promotion policy refuses a release or promote (exit 1, nothing committed): the
    version is not verified in the environments the overlay's ``rollout.requires`` names."""

    label = "refused"


class Closed(Refused):
    """The environment is closed to releases and promotes now: inside a ``rollout.freeze`` or
    outside every ``rollout.windows`` entry (exit 1, nothing committed; ``promote --all`` skips
    the model and exits 0). ``opens`` is when it opens again (None: not known)."""

    def __init__(self, problems: str | Problem | Iterable[Problem | str], *, opens: str | None = None):
        super().__init__(problems)
        self.opens = opens
        """When the environment opens again (ISO 8601), for programs."""


class PushFailed(GitError):
    """The push could not be completed (exit 2); a lost race is :class:`RaceLost` (exit 1)."""


class RaceLost(CheckFailed):
    """The model's state changed upstream while this command ran (exit 1: re-run it)."""


Waiting = Literal["bake-time", "not-live", "too-little-traffic"]
"""Why a promote is not decided yet."""


class NotDecided(ServespecError):
    """A promote that cannot be decided yet, and committed nothing (exit 3): the step's bake
    time is not over, the canary is not live (its share of the requests is not the step's), or it
    served too few requests to be judged. ``promote --all`` reports the model as waiting."""

    exit_code = 3
    label = "waiting"

    def __init__(self, problems: str | Problem | Iterable[Problem | str], *, reason: Waiting, waiting: str = ""):
        super().__init__(problems)
        self.reason: Waiting = reason
        """What is awaited, as a word for programs (``bake-time``, ``not-live``, ``too-little-traffic``)."""
        self.waiting = waiting
        """What is awaited, with the numbers, e.g. ``at 10% since ..., 5m00s required, 3m10s left``."""


class NotDue(NotDecided):
    """The step's bake time is not over (exit 3: not decided yet)."""

    def __init__(self, problems: str | Problem | Iterable[Problem | str], *, waiting: str = ""):
        super().__init__(problems, reason="bake-time", waiting=waiting)
