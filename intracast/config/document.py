"""Read a YAML config into plain data while keeping where each key and value stood.

PyYAML's composer keeps a mark on every node; we walk the node graph
ourselves (instead of `yaml.safe_load`) so that every later problem, from
pydantic or from our own checks, can be reported at its line and column.
Duplicate keys, which PyYAML silently accepts, are reported here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from intracast.config.envsubst import has_reference, substitute
from intracast.config.problems import KeyPath, Problem, describe

SECRET_KEYS = frozenset({"password", "token", "secret", "api_key", "apikey"})


@dataclass(frozen=True, slots=True)
class Position:
    line: int
    col: int

    @classmethod
    def of(cls, node: yaml.Node) -> Position:
        return cls(node.start_mark.line + 1, node.start_mark.column + 1)


@dataclass
class Document:
    file: str
    data: Any = None
    keys: dict[KeyPath, Position] = field(default_factory=dict)
    values: dict[KeyPath, Position] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def position(self, path: KeyPath, *, key: bool = False) -> Position:
        """Where `path` stands; its key's position if asked and known, else its value's."""
        if key and path in self.keys:
            return self.keys[path]
        while path not in self.values and path:
            path = path[:-1]
        return self.values.get(path, Position(1, 1))

    def problem(
        self, path: KeyPath, message: str, *, key: bool = False, at: Position | None = None, severity: str = "error"
    ) -> Problem:
        pos = at or self.position(path, key=key)
        return Problem(self.file, pos.line, pos.col, describe(path, self.data), message, severity)  # type: ignore[arg-type]


def parse(text: str, file: str, env: Mapping[str, str]) -> Document:
    doc = Document(file)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        doc.problems.append(_syntax_problem(file, e))
        return doc
    if root is None:
        doc.problems.append(Problem(file, 1, 1, "(top)", "the file is empty"))
        return doc
    builder = _Builder(doc, env)
    doc.data = builder.build(root, ())
    for path, message, at, severity in builder.pending:
        doc.problems.append(doc.problem(path, message, at=at, severity=severity))
    for path in builder.literal_secrets:
        name = re.sub(r"[^A-Za-z0-9]+", "_", describe(path, doc.data)).strip("_").upper()
        message = f"a literal secret; put it in the environment and write ${{{name}}}"
        doc.problems.append(doc.problem(path, message, severity="warning"))
    return doc


def _syntax_problem(file: str, error: yaml.MarkedYAMLError) -> Problem:
    mark = error.problem_mark or error.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = error.problem or "not valid YAML"
    if "'\\t'" in problem:
        problem = "a tab character; YAML is indented with spaces only"
    elif error.context:
        problem = f"{problem} ({error.context})"
    if any(hint in problem for hint in _INDENTATION_SYMPTOMS):
        problem += "; check the indentation of this line and the one above"
    return Problem(file, line, col, "(yaml)", problem)


# What PyYAML says when a line is indented wrongly; it never says "indentation".
_INDENTATION_SYMPTOMS = ("mapping values are not allowed", "expected <block end>", "did not find expected key")


class _Builder:
    """Turns the node graph into Python data, recording positions and problems."""

    def __init__(self, doc: Document, env: Mapping[str, str]):
        self.doc = doc
        self.env = env
        self.loader = yaml.SafeLoader("")
        # reported once data is complete, so that paths can name list entries
        self.pending: list[tuple[KeyPath, str, Position | None, str]] = []
        self.literal_secrets: list[KeyPath] = []

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self.doc.values[path] = Position.of(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, path + (i,)) for i, child in enumerate(node.value)]
        return self._scalar(node, path)

    def _scalar(self, node: yaml.ScalarNode, path: KeyPath) -> Any:
        value = self.loader.construct_object(node, deep=True)
        if not isinstance(value, str):
            return value
        result, missing = substitute(value, self.env)
        for name in missing:
            message = f"environment variable {name} is not set (set it, or give a default: ${{{name}:-value}})"
            self.pending.append((path, message, None, "error"))
        if path and path[-1] in SECRET_KEYS and value and not has_reference(value):
            self.literal_secrets.append(path)
        return result

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[Any, Any]:
        self.loader.flatten_mapping(node)  # resolves `<<` merge keys
        result: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = self.loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                self.pending.append((path, f"a key must be a plain word, not {key!r}", None, "error"))
                continue
            child = path + (key,)
            if key in first_line:
                message = f"duplicate key {key!r} (first at line {first_line[key]})"
                self.pending.append((child, message, Position.of(key_node), "error"))
                continue
            first_line[key] = key_node.start_mark.line + 1
            self.doc.keys[child] = Position.of(key_node)
            result[key] = self.build(value_node, child)
        return result
