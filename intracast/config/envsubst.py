"""`${NAME}` and `${NAME:-default}` in config values, from the environment.

`$${` stands for a literal `${`. Substitution happens on scalar strings only,
so a value can never inject YAML structure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def substitute(value: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """The value with references replaced, and the names that were missing."""
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        missing.append(name)
        return match.group(0)

    return _REFERENCE.sub(replace, value), missing


def has_reference(value: str) -> bool:
    return any(m.group(1) for m in _REFERENCE.finditer(value))
