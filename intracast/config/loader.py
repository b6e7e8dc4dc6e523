"""Load and validate the config file: every problem at once, or a usable config."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from intracast.config.document import parse
from intracast.config.explain import explain
from intracast.config.model import Config, config_model
from intracast.config.problems import ConfigError, Problem
from intracast.config.references import check_references


@dataclass(frozen=True)
class LoadedConfig:
    config: Config
    path: Path
    warnings: list[Problem]
    text: str = ""  # as read, before ${...}: what the daemon records as the config in force

    @property
    def base_dir(self) -> Path:
        """Relative paths inside the config are relative to its folder."""
        return self.path.resolve().parent

    def resolve(self, path: Path) -> Path:
        return (self.base_dir / path).resolve()


def load_config(path: Path, env: Mapping[str, str] | None = None) -> LoadedConfig:
    """Read, parse and validate; raise `ConfigError` listing every error (and warning)."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise ConfigError([Problem(file, 1, 1, "(file)", f"cannot read the config: {e.strerror or e}")]) from e
    except UnicodeDecodeError as e:
        raise ConfigError([Problem(file, 1, 1, "(file)", f"not UTF-8 text ({e.reason} at byte {e.start})")]) from e
    return load_text(text, path, env)


def load_text(text: str, path: Path, env: Mapping[str, str] | None = None, *, file: str | None = None
              ) -> LoadedConfig:
    """Parse and validate config text as if read from `path`; problems name `file` (default: the path)."""
    file = file or str(path)
    doc = parse(text, file, os.environ if env is None else env)
    problems = list(doc.problems)
    config = None
    if doc.data is not None:
        model = config_model()
        try:
            config = model.model_validate(doc.data)
        except ValidationError as e:
            problems.extend(explain(e, doc, model))
        problems.extend(check_references(doc))
    if config is None or any(p.severity == "error" for p in problems):
        raise ConfigError(problems)
    return LoadedConfig(config, path, problems, text)
