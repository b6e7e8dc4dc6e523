"""Config problems: where (file, line, column, key path) and what.

Every problem prints as `FILE:LINE:COL: key.path: message`, the format
compilers use, so editors and CI annotate the offending line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int
    col: int
    path: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.file}:{self.line}:{self.col}: {self.path}: {prefix}{self.message}"


class ConfigError(Exception):
    """The config cannot be used; `problems` lists every reason, in file order."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.col))
        super().__init__("\n".join(str(p) for p in self.problems))


def describe(path: KeyPath, data: Any) -> str:
    """`digests[daily].schedule`: list entries by their name (or id), else by index."""
    parts: list[str] = []
    node = data
    for key in path:
        if isinstance(key, int):
            entry = node[key] if isinstance(node, list) and key < len(node) else None
            label = _label(entry)
            parts.append(f"[{label if label is not None else key}]")
        else:
            parts.append(f".{key}" if parts else str(key))
        node = _child(node, key)
    return "".join(parts) or "(top)"


def _label(entry: Any) -> str | None:
    if isinstance(entry, dict):
        for field in ("id", "name"):
            value = entry.get(field)
            if isinstance(value, str) and value and all(c not in value for c in ".[]"):
                return value
    return None


def _child(node: Any, key: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(key)
    if isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
        return node[key]
    return None
