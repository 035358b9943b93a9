"""Attribute docstrings of the spec classes, read from their source when documentation needs them.

A field is documented by the string literal right below it (PEP 257's "attribute docstrings").
pydantic can copy those into ``FieldInfo.description`` while it builds each class
(``use_attribute_docstrings``), but that reads and parses every module's source on import: 40% of
importing ``servespec.spec``, paid by every command. Only the field reference and ``servespec
schema`` show them, so they read them here, on demand, the way pydantic would (own class first,
then each base in method resolution order).
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap

__all__ = ["attribute_docs"]


def attribute_docs(cls: type) -> dict[str, str]:
    """``field name -> docstring`` of ``cls`` and its bases (the nearest class wins)."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass.__module__.startswith("servespec."):
            out.update(_own_docs(klass))
    return out


@functools.cache
def _own_docs(cls: type) -> dict[str, str]:
    try:
        lines, _ = inspect.getsourcelines(cls)
    except (OSError, TypeError):
        return {}
    tree = ast.parse(textwrap.dedent("".join(lines)))
    node = tree.body[0]
    if not isinstance(node, ast.ClassDef):
        return {}
    docs: dict[str, str] = {}
    for stmt, after in zip(node.body, node.body[1:], strict=False):
        if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)):
            docs[stmt.target.id] = inspect.cleandoc(after.value.value)
    return docs
