"""Turn pydantic's validation errors into problems at the right line and key.

pydantic locates an error by a path through the data (`loc`) that also holds
the names of union members; we keep the steps that exist in the document,
find their marks, and rephrase the messages an admin meets most.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterator
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from intracast.config.document import Document
from intracast.config.problems import KeyPath, Problem


def did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def explain(error: ValidationError, doc: Document, model: type[BaseModel]) -> Iterator[Problem]:
    for details in error.errors(include_url=False):
        yield _problem(details, doc, model)


def _problem(details: ErrorDetails, doc: Document, model: type[BaseModel]) -> Problem:
    loc, kind, ctx = details["loc"], details["type"], details.get("ctx", {})
    if kind == "missing":
        return doc.problem(_data_path(loc[:-1], doc) + (loc[-1],), f"missing required key {loc[-1]!r}")
    path = _data_path(loc, doc)
    if kind == "extra_forbidden":
        key = str(loc[-1])
        allowed = allowed_keys(model, loc[:-1])
        return doc.problem(path, f"unknown key {key!r}{did_you_mean(key, allowed)}", key=True)
    if kind == "union_tag_invalid":
        tag, expected = str(ctx.get("tag")), _tags(ctx.get("expected_tags", ""))
        message = f"unknown type {tag!r}{did_you_mean(tag, expected)} (known: {', '.join(expected)})"
        return doc.problem(path + ("type",), message)
    if kind == "union_tag_not_found":
        return doc.problem(path + ("type",), "missing required key 'type'")  # every union here is keyed on `type`
    return doc.problem(path, _message(details))


def _message(details: ErrorDetails) -> str:
    if details["type"] in ("model_type", "dict_type", "model_attributes_type"):
        return f"expected a mapping of keys (key: value), got {_kind(details.get('input'))}"
    if details["type"] == "list_type":
        return f"expected a list (- entry), got {_kind(details.get('input'))}"
    message = details["msg"].removeprefix("Value error, ")
    value = details.get("input")
    if isinstance(value, (str, int, float, bool)) and repr(value) not in message and details["type"] != "value_error":
        message += f" (got {value!r})"
    return message


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "nothing" if value is None else repr(value)


def _tags(expected: str) -> list[str]:
    return [tag.strip(" '") for tag in expected.split(",") if tag.strip(" '")]


def _data_path(loc: tuple[int | str, ...], doc: Document) -> KeyPath:
    """The steps of `loc` that exist in the document (union member names drop out)."""
    path: KeyPath = ()
    for step in loc:
        if path + (step,) in doc.values:
            path += (step,)
    return path


def allowed_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys the model accepts at `loc`, for "did you mean" suggestions."""
    tp: Any = model
    for step in loc:
        tp = _step(tp, step)
        if tp is None:
            return []
    tp = _unwrap(tp)
    return list(tp.model_fields) if _is_model(tp) else []


def _step(tp: Any, step: int | str) -> Any:
    tp = _unwrap(tp)
    if isinstance(step, int):
        return get_args(tp)[0] if get_origin(tp) in (list, tuple) else None
    if _is_model(tp):
        field = tp.model_fields.get(step)
        return field.annotation if field else None
    if get_origin(tp) in (Union, types.UnionType):
        for member in map(_unwrap, get_args(tp)):
            if _is_model(member) and step in _type_tags(member):
                return member
    return None


def _unwrap(tp: Any) -> Any:
    """Strip `Annotated` and `| None`."""
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
            continue
        if get_origin(tp) in (Union, types.UnionType):
            members = [arg for arg in get_args(tp) if arg is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
        return tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _type_tags(model: type[BaseModel]) -> tuple[Any, ...]:
    field = model.model_fields.get("type")
    if field is None or get_origin(field.annotation) is not Literal:
        return ()
    return get_args(field.annotation)
