"""Every YAML example we ship passes `intracast check` (issue 14, item 6).

An example is a ```yaml block of README.md, a commented-out section of
config/intracast.yaml (`# smtp:` and the lines indented under it), or a file
in config/examples/. Inside an example, a commented-out option (`# subject:
...` beside its siblings) is an example too, so each is checked once as
written and once with those options uncommented.

A fragment is checked as an admin would use it: merged into the shipped
config (a named entry replaces the shipped one of that name, a new one is
added), with every `${NAME}` set to a sample value, by the real `check`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from intracast.cli import main
from tests.conftest import REPO, SHIPPED_CONFIG

README = REPO / "README.md"
EXAMPLES = sorted((REPO / "config" / "examples").glob("*.yaml"))

_FENCE = re.compile(r"^```yaml\n(.*?)^```", re.M | re.S)
_COMMENTED_SECTION = re.compile(r"^# ([a-z_]+):[ \t]*\n((?:#(?: {2,}| *- ).*\n)+)", re.M)
_COMMENTED_OPTION = re.compile(r"^(\s*)# ([a-z_]+: \S.*)$", re.M)
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")
_KEYS = ("name", "id", "email")  # what identifies an entry of a named list

# Variables whose value has a shape the config checks; any other gets a plain sample.
SAMPLES = {
    "INTRACAST_ADMIN_PASSWORD_HASH": "scrypt$16384$8$1$VzY7gsN4NtuNHw5q1suVRA==$"
                                     "lTY3dLk2F6SKegk12g9IuGjLYa0w3kc+Ke0pBbLHwew=",
    "INTRACAST_STORAGE_URL": "sqlite:///var/intracast.db",
}
# Someone in no example's list: a person in both the list and the CSV is a warning.
RECIPIENTS_CSV = "email,name,locale,timezone,groups,frequency,id\ncarla@example.org,Carla,en,,,,1001\n"


def readme_examples() -> list[tuple[str, str]]:
    text = README.read_text(encoding="utf-8")
    return [(f"README.md:{text[:m.start()].count(chr(10)) + 2}", m.group(1)) for m in _FENCE.finditer(text)]


def commented_sections() -> list[tuple[str, str]]:
    """`# smtp:` and the `#   ...` lines under it, uncommented."""
    text = SHIPPED_CONFIG.read_text(encoding="utf-8")
    found = []
    for m in _COMMENTED_SECTION.finditer(text):
        body = "".join(line[2:] + "\n" for line in m.group(2).splitlines())
        found.append((f"intracast.yaml:{text[:m.start()].count(chr(10)) + 1}", f"{m.group(1)}:\n{body}"))
    return found


def file_examples() -> list[tuple[str, str]]:
    return [(f"examples/{path.name}", path.read_text(encoding="utf-8")) for path in EXAMPLES]


def with_options_uncommented(text: str) -> str:
    return _COMMENTED_OPTION.sub(r"\1\2", text)


def merge(base: Any, fragment: Any) -> Any:
    """The fragment over the base: mappings key by key, named lists entry by entry."""
    if isinstance(base, dict) and isinstance(fragment, dict):
        return {**base, **{key: merge(base.get(key), value) for key, value in fragment.items()}}
    key = _entry_key(base) if isinstance(fragment, list) else None
    if key and _entry_key(fragment) == key:
        merged = {entry[key]: entry for entry in base}
        merged.update({entry[key]: entry for entry in fragment})
        return list(merged.values())
    return fragment


def _entry_key(entries: Any) -> str | None:
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        return None
    return next((key for key in _KEYS if all(key in entry for entry in entries)), None)


def samples(text: str) -> dict[str, str]:
    return {name: SAMPLES.get(name, f"sample-{name.lower()}-0123456789") for name in _VARIABLE.findall(text)}


def check(fragment: str, folder: Path) -> tuple[int, str]:
    """`intracast check` on the shipped config with the fragment merged in, in `folder`."""
    shipped = SHIPPED_CONFIG.read_text(encoding="utf-8")
    merged = merge(yaml.safe_load(shipped), yaml.safe_load(fragment))
    path = folder / "config" / "intracast.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(merged, sort_keys=False, allow_unicode=True), encoding="utf-8")
    if isinstance(merged.get("recipients"), dict) and merged["recipients"].get("file"):
        (path.parent / merged["recipients"]["file"]).write_text(RECIPIENTS_CSV, encoding="utf-8")
    env = samples(shipped + fragment)
    result = CliRunner().invoke(main, ["-c", str(path), "check"], env=env, catch_exceptions=False)
    return result.exit_code, result.output.replace(str(path), "(merged)")


def cases() -> list[tuple[str, str]]:
    found = []
    for where, text in [*readme_examples(), *commented_sections(), *file_examples()]:
        found.append((where, text))
        if with_options_uncommented(text) != text:
            found.append((f"{where} (options uncommented)", with_options_uncommented(text)))
    return found


CASES = cases()


def test_the_examples_are_found() -> None:
    where = [name for name, _ in CASES]
    assert len(readme_examples()) >= 3 and len(file_examples()) == len(EXAMPLES) >= 2, where
    assert any(text.startswith("smtp:") for name, text in commented_sections()), where
    assert any("options uncommented" in name for name in where), where


@pytest.mark.parametrize(("where", "fragment"), CASES, ids=[name for name, _ in CASES])
def test_every_example_passes_check(where: str, fragment: str, tmp_path: Path) -> None:
    code, output = check(fragment, tmp_path)
    assert code == 0 and re.fullmatch(r"\(merged\): OK \([^;]*\)\n", output), f"{where}:\n{output}"


def test_merge_replaces_named_entries_and_adds_new_ones() -> None:
    base = {"sources": [{"name": "demo", "every": "15m", "type": "demo"}], "server": {"listen": "a", "secret": "s"}}
    fragment = {"sources": [{"name": "demo", "every": "5m"}, {"name": "news"}], "server": {"listen": "b"}}
    assert merge(base, fragment) == {
        "sources": [{"name": "demo", "every": "5m"}, {"name": "news"}],
        "server": {"listen": "b", "secret": "s"},
    }
