"""The settings that need a restart: a reload keeps their start-up values in the config it applies,
so that no component half-applies them, and names each one that waits (intracast/restart.py).
The log line and the /admin text are proven on a running daemon (tests/intracast/test_reload_applies.py)."""

from __future__ import annotations

import re
from pathlib import Path

from intracast.config import LoadedConfig, load_config
from intracast.restart import RESTART_ONLY, RestartOnly, Unapplied
from tests.conftest import REPO

HEAD = "intranet: {name: Plek, url: 'https://intranet.example.org'}\n"


def config(tmp_path: Path, server: str, storage: str = "sqlite:///var/a.db") -> LoadedConfig:
    path = tmp_path / "intracast.yaml"
    path.write_text(HEAD + f"server: {server}\nstorage: {{url: '{storage}'}}\n")
    return load_config(path, env={})


def test_the_settings_that_wait_are_kept_as_started_and_the_rest_applies(tmp_path: Path) -> None:
    restart = RestartOnly(config(tmp_path, "{listen: '127.0.0.1:8080'}").config)
    restart.listening("127.0.0.1:41234")  # started with --listen 127.0.0.1:0
    new = config(tmp_path, "{listen: '0.0.0.0:9090', public_url: 'https://intracast.example.org'}",
                 "postgresql://intracast:hunter2@db.example.org/intracast")
    applied, unapplied = restart.pin(new)
    assert unapplied == [
        Unapplied("server.listen", "127.0.0.1:41234", "0.0.0.0:9090"),
        Unapplied("storage.url", "sqlite:///var/a.db", "postgresql://intracast:***@db.example.org/intracast"),
    ]
    # Mails link to the address in force, not to one nobody listens on yet; the public URL applies.
    assert applied.config.server.listen == "127.0.0.1:8080"
    assert applied.config.storage.url == "sqlite:///var/a.db"
    assert str(applied.config.server.public_url) == "https://intracast.example.org/"
    assert applied.path == new.path


def test_a_config_that_puts_them_back_has_nothing_waiting(tmp_path: Path) -> None:
    started = config(tmp_path, "{listen: '127.0.0.1:8080'}")
    restart = RestartOnly(started.config)
    restart.pin(config(tmp_path, "{listen: '127.0.0.1:9090'}"))
    applied, unapplied = restart.pin(config(tmp_path, "{listen: '127.0.0.1:8080'}"))
    assert unapplied == [] and applied.config == started.config


def test_the_readme_lists_what_needs_a_restart() -> None:
    readme = (REPO / "README.md").read_text()
    start = readme.index("### Admin pages and hot reload")
    section = readme[start:readme.index("\n##", start)]  # to the next heading
    listed = re.findall(r"^\| `([\w.]+)` \|", section, re.MULTILINE)
    assert listed == list(RESTART_ONLY)
