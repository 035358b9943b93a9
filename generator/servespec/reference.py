"""The field reference, built from the declarations themselves: every class a user writes (a spec
in ``specs/*.py``, an overlay, the rollout state), each field's Python and YAML name, type,
default and attribute docstring. ``docs/reference.md`` is :func:`reference_markdown`'s output
(regenerate: ``python -m servespec.reference docs/reference.md``); ``servespec explain PATH``
prints one class or field of it (:func:`explain`).
"""

from __future__ import annotations

import ast
import functools
import inspect
import json
import re
import sys
import textwrap
import types
import typing
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import to_jsonable_python

from .errors import Problem, UsageError
from .spec.overlay import EnvOverlay
from .spec.rollout import RolloutStateFile
from .spec import LLM, AzureStorage, GCSStorage, HTTPStorage, HuggingFaceStorage, InferenceGraph, Model, S3Storage
from .spec.base import SpecModel
from .spec.docstrings import attribute_docs

__all__ = [
    "ROOTS", "SECTIONS", "TypeAlias", "FieldDoc", "reachable_classes", "type_aliases",
    "field_docs", "type_name", "reference_markdown", "explain", "main",
]



ROOTS: dict[str, type[SpecModel]] = {
    "model": Model, "storage": S3Storage, "overlay": EnvOverlay, "state": RolloutStateFile, "llm": LLM,
}
"""Where a path of ``servespec explain`` may start (besides a class name)."""

SECTIONS: tuple[tuple[str, str, tuple[type[SpecModel], ...]], ...] = (
    ("Specs", "`specs/*.py`: module-level `Model`, storage endpoint (`S3Storage`, `GCSStorage`, `AzureStorage`, "
     "`HuggingFaceStorage`, `HTTPStorage`), `LLM` and `InferenceGraph` objects, keyword arguments by Python name; a "
     "`Runtime` is declared where a model uses it.",
     (Model, S3Storage, GCSStorage, AzureStorage, HuggingFaceStorage, HTTPStorage, LLM, InferenceGraph)),
    ("Overlays", "`overlays/<env>.yaml` (or `overlays/<env>/*.yaml`): keys by YAML name.", (EnvOverlay,)),
    ("Rollout state", "`overlays/<env>.rollout.yaml`, written by the rollout commands: keys by YAML name.",
     (RolloutStateFile,)),
)
"""The reference's sections: title, what file the classes are written in, and their roots."""


@dataclass(frozen=True)
class TypeAlias:
    """A named constrained type (``Name = Annotated[str, ...]``) and its attribute docstring."""

    name: str
    value: object
    base: str
    doc: str
    discriminator: str = ""
    """For a union of classes: the field that picks the class (``source``, ``type``)."""


@dataclass(frozen=True)
class FieldDoc:
    """One field as the reference shows it."""

    owner: type[SpecModel]
    name: str
    alias: str
    type_text: str
    """The type as the reference shows it."""
    default: str
    doc: str
    classes: tuple[type[SpecModel], ...]
    """The classes its type contains (for nested explain and the reference's links)."""
    mapping: bool = False
    """A map (``dict[str, X]``) from keys the user chooses: ``*`` stands for one in explain paths."""


# -- walking the types --------------------------------------------------------------------------
def _annotation(info: FieldInfo) -> object:
    ann: object = info.annotation
    if info.metadata:
        return typing.Annotated[(ann, *info.metadata)]
    return ann


def _is_model(obj: object) -> typing.TypeGuard[type[SpecModel]]:
    return isinstance(obj, type) and issubclass(obj, SpecModel)


def classes_in(annotation: object) -> list[type[SpecModel]]:
    """The spec classes an annotation mentions, in order (``list[Gate] | None`` -> ``[Gate]``)."""
    if _is_model(annotation):
        return [annotation]
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Annotated:
        args = args[:1]
    if typing.get_origin(annotation) is typing.Literal:
        return []
    out: list[type[SpecModel]] = []
    for arg in args:
        out.extend(c for c in classes_in(arg) if c not in out)
    return out


def _is_mapping(annotation: object) -> bool:
    origin = typing.get_origin(annotation)
    if origin is dict:
        return True
    if origin in (typing.Annotated, typing.Union, types.UnionType):
        return any(_is_mapping(a) for a in typing.get_args(annotation)[: 1 if origin is typing.Annotated else None])
    return False


def reachable_classes(roots: typing.Iterable[type[SpecModel]]) -> list[type[SpecModel]]:
    """Every class reachable from ``roots`` through field types, breadth first in field order."""
    seen: list[type[SpecModel]] = []
    queue = list(roots)
    while queue:
        cls = queue.pop(0)
        if cls in seen:
            continue
        seen.append(cls)
        for info in cls.model_fields.values():
            queue.extend(c for c in classes_in(_annotation(info)) if c not in seen)
    return seen


def _module_aliases(module: types.ModuleType) -> list[tuple[str, object, str]]:
    """Module-level ``X = Annotated[...]`` definitions with their attribute docstrings (source order)."""
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError):  # pragma: no cover - no source shipped
        return []
    out = []
    body = tree.body
    for i, node in enumerate(body):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        name = node.targets[0].id
        value = getattr(module, name, None)
        if typing.get_origin(value) is not typing.Annotated:
            continue
        nxt = body[i + 1] if i + 1 < len(body) else None
        doc = nxt.value.value if isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant) else ""
        out.append((name, value, inspect.cleandoc(doc) if isinstance(doc, str) else ""))
    return out


@functools.lru_cache(maxsize=1)
def type_aliases() -> tuple[TypeAlias, ...]:
    """The named types of the declarations; a name defined in two modules is qualified
    (``rollout.Duration``, ``delivery.Duration``). Static data, so computed once."""
    classes = reachable_classes(ROOTS.values())
    modules = sorted({c.__module__ for c in classes} | {SpecModel.__module__})
    found: list[tuple[str, str, object, str]] = []
    for mod in modules:
        for name, value, doc in _module_aliases(sys.modules[mod]):
            if not any(v is value or v == value for _, _, v, _ in found):
                found.append((mod.rsplit(".", 1)[-1], name, value, doc))
    counts: dict[str, int] = {}
    for _, name, _, _ in found:
        counts[name] = counts.get(name, 0) + 1
    out = []
    for mod, name, value, doc in found:
        shown = name if counts[name] == 1 else f"{mod}.{name}"
        out.append(TypeAlias(shown, value, _render(typing.get_args(value)[0], (), False), doc, _discriminator(value)))
    return tuple(sorted(out, key=lambda a: a.name.lower()))


def _discriminator(value: object) -> str:
    for meta in typing.get_args(value)[1:]:
        if isinstance(meta, FieldInfo) and isinstance(meta.discriminator, str):
            return meta.discriminator
    return ""


def _render(ann: object, aliases: tuple[TypeAlias, ...], link: bool) -> str:
    for alias in aliases:
        if ann is alias.value or (typing.get_origin(ann) is typing.Annotated and ann == alias.value):
            return f"[{alias.name}](#{anchor(alias.name)})" if link else alias.name
    if ann is type(None) or ann is None:
        return "null"
    if _is_model(ann):
        return f"[{ann.__name__}](#{anchor(ann.__name__)})" if link else ann.__name__
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin is typing.Annotated:
        return _render(args[0], aliases, link)
    if origin is typing.Literal:
        return " | ".join(json.dumps(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_render(a, aliases, link) for a in args)
    if origin in (list, dict):
        return f"{origin.__name__}[{', '.join(_render(a, aliases, link) for a in args)}]"
    return getattr(ann, "__name__", str(ann))


def type_name(annotation: object, link: bool = False) -> str:
    """A readable type: ``NonNegativeInt``, ``"v1" | "v2" | null``, ``dict[str, Quantity]``."""
    return _render(annotation, type_aliases(), link)


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return REQUIRED
    value = info.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    return json.dumps(to_jsonable_python(value, by_alias=True), separators=(", ", ": "))


REQUIRED = "required"
"""What the reference shows as the default of a field without one."""


def _doc(text: str | None) -> str:
    return inspect.cleandoc(text or "").replace("``", "`")


def field_docs(cls: type[SpecModel], link: bool = False) -> list[FieldDoc]:
    """The fields of ``cls`` in declaration order; a union's discriminator field without a
    docstring is described as one."""
    aliases = type_aliases()
    out = []
    for name, info in cls.model_fields.items():
        ann = _annotation(info)
        doc = _doc(info.description or attribute_docs(cls).get(name))
        if not doc:
            unions = [a.name for a in aliases if a.discriminator == name and cls in classes_in(a.value)]
            doc = f"Selects this class among the {unions[0]} classes." if unions else ""
        out.append(FieldDoc(cls, name, info.alias or name, _render(ann, aliases, link), _default(info),
                            doc, tuple(classes_in(ann)), _is_mapping(ann)))
    return out


def anchor(heading: str) -> str:
    """GitHub's anchor of a markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


# -- the markdown reference ---------------------------------------------------------------------
def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _used_in(classes: list[type[SpecModel]]) -> dict[type[SpecModel], list[str]]:
    used: dict[type[SpecModel], list[str]] = {}
    for cls in classes:
        for f in field_docs(cls):
            for target in f.classes:
                used.setdefault(target, []).append(f"`{cls.__name__}.{f.name}`")
    return used


def _class_section(cls: type[SpecModel], used: list[str]) -> list[str]:
    lines = [f"### {cls.__name__}", "", _doc(cls.__doc__), ""]
    if used:
        lines += [f"Used in: {', '.join(used)}.", ""]
    lines += ["| Python | YAML | type | default | description |", "| --- | --- | --- | --- | --- |"]
    for f in field_docs(cls, link=True):
        default = f.default if f.default == REQUIRED else f"`{_cell(f.default)}`"
        lines.append(f"| `{f.name}` | `{f.alias}` | {_cell(f.type_text)} | {default} | {_cell(f.doc) or '—'} |")
    return [*lines, ""]


def reference_markdown() -> str:
    """``docs/reference.md``: every class reachable from the roots, each field, and the named types."""
    lines = [
        "# servespec field reference", "",
        "Generated from servespec's pydantic models by `python -m servespec.reference docs/reference.md`",
        "(or `servespec explain --markdown`); do not edit by hand. `servespec explain PATH` shows one",
        "class or field in the terminal, e.g. `servespec explain Predictor.scale_metric` or",
        "`servespec explain overlay.rollout.plan`.", "",
        "Python names are the keyword arguments in `specs/*.py`; YAML names are the keys in overlays and",
        "state files. Defaults are shown in YAML/JSON notation (`null` is Python's `None`; `{}` is an",
        "object whose fields all keep their defaults). Every class refuses unknown keys.", "",
    ]
    documented: list[type[SpecModel]] = []
    every = reachable_classes(ROOTS.values())
    used = _used_in(every)
    toc = ["## Contents", ""]
    body: list[str] = []
    for title, where, roots in SECTIONS:
        classes = [c for c in reachable_classes(roots) if c not in documented]
        documented.extend(classes)
        toc.append(f"- [{title}](#{anchor(title)}): " + ", ".join(f"[{c.__name__}](#{anchor(c.__name__)})" for c in classes))
        body += [f"## {title}", "", where, ""]
        for cls in classes:
            body += _class_section(cls, used.get(cls, []))
    toc.append("- [Types](#types)")
    body += ["## Types", "", "Named types used above; each checks its values when a spec or overlay is loaded.", ""]
    for alias in type_aliases():
        base = _render(typing.get_args(alias.value)[0], (), True)
        picked = f" (the class is picked by its `{alias.discriminator}` field)" if alias.discriminator else ""
        body += [f"### {alias.name}", "", f"{base}{picked}" + (f": {_doc(alias.doc)}" if alias.doc else ""), ""]
    return "\n".join([*lines, *toc, "", *body]).rstrip("\n") + "\n"


# -- explain ----------------------------------------------------------------------------------
_ROOT_FILES = {"model": "specs/*.py", "storage": "specs/*.py", "overlay": "overlays/<env>.yaml",
               "state": "overlays/<env>.rollout.yaml", "llm": "specs/*.py"}


def _explainable() -> list[type[SpecModel]]:
    """Every class a path may start with: those of the reference's sections (storage kinds and graphs too)."""
    return reachable_classes(c for _title, _where, roots in SECTIONS for c in roots)


def _class_by_name(name: str) -> type[SpecModel] | None:
    for cls in _explainable():
        if cls.__name__.lower() == name.lower():
            return cls
    return None


def _field_lines(cls: type[SpecModel], yaml_names: bool) -> list[str]:
    lines = [f"{cls.__name__}: {_doc(cls.__doc__)}".replace("\n", "\n  "), "FIELDS:"]
    for f in field_docs(cls):
        shown = f.alias if yaml_names else f.name
        default = "" if f.default == REQUIRED else f" = {f.default}"
        lines.append(f"  {shown} <{f.type_text}>{default}{'  (required)' if f.default == REQUIRED else ''}")
        lines += [f"      {line}" for line in textwrap.wrap(" ".join(f.doc.split()), 92)] or ["      —"]
    return lines


def _overview() -> str:
    roots = [f"  {name:<8} {cls.__name__} ({_ROOT_FILES[name]})" for name, cls in ROOTS.items()]
    classes = textwrap.wrap(", ".join(c.__name__ for c in reachable_classes(ROOTS.values())), 96)
    return "\n".join([
        "servespec explain PATH: one class or field of specs, overlays and rollout state (like kubectl explain).",
        "A path starts at", *roots, "or at a class name:", *(f"  {line}" for line in classes),
        "then names fields by Python or YAML name; `*` stands for any key of a map.",
        "Examples: servespec explain Predictor.scale_metric | overlay.rollout.plan | state.models",
    ]) + "\n"


def _unknown(path: str, expected: str, found: str) -> UsageError:
    return UsageError(Problem("", None, path, f"expected {expected}, found {found!r}"))


def explain(path: str) -> str:
    """What ``servespec explain PATH`` prints: the class or field at ``PATH`` with its type,
    default and docstring, and the fields of the class it holds. ``PATH`` starts at a root
    (``model``, ``storage``, ``overlay``, ``state``) or a class name; unknown names raise
    ``UsageError`` listing the names known at that level."""
    if not path.strip():
        return _overview()
    first, *rest = path.strip().split(".")
    root = ROOTS.get(first.lower()) or _class_by_name(first)
    if root is None:
        raise _unknown(path, f"{', '.join(ROOTS)} or a class name ({', '.join(c.__name__ for c in _explainable())})", first)
    yaml_names = first.lower() in ("overlay", "state")
    classes: list[type[SpecModel]] = [root]
    matches: list[FieldDoc] = []
    done = [first]
    for seg in rest:
        at = ".".join(done)
        if seg == "*" and matches and matches[0].mapping and done[-1] != "*":
            done.append(seg)
            continue
        if not classes:
            raise _unknown(path, f"nothing after {at} (a {matches[0].type_text} value)", seg)
        fields = [f for c in classes for f in field_docs(c)]
        found = [f for f in fields if seg in (f.name, f.alias)]
        if not found:
            known = sorted({f.alias if yaml_names else f.name for f in fields}, key=str.lower)
            hint = f"; `{at}.*.FIELD` for a field of any entry" if matches and matches[0].mapping else ""
            raise _unknown(path, f"a field of {at} ({', '.join(known)}){hint}", seg)
        matches = found
        classes = [c for f in matches for c in f.classes]
        classes = [c for i, c in enumerate(classes) if c not in classes[:i]]
        done.append(seg)
    out: list[str] = []
    for f in matches:
        out += [f"{f.owner.__name__}.{f.name}  (YAML: {f.alias})", f"TYPE:     {f.type_text}",
                f"DEFAULT:  {f.default}", "", *(f"  {line}" for line in f.doc.splitlines() or ["—"]), ""]
    for cls in classes:
        out += [*_field_lines(cls, yaml_names), ""]
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m servespec.reference [FILE]``: print the reference, or write it to FILE."""
    args = sys.argv[1:] if argv is None else argv
    text = reference_markdown()
    if args:
        Path(args[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
