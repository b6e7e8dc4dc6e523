"""The source states /healthz reports are the ones the README lists, in one list (issue 14, item 7)."""

from __future__ import annotations

import re

from intracast.health import SourceState
from tests.conftest import REPO


def readme_states() -> list[str]:
    """The first column of the README's `| source state | meaning |` table."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    table = text.split("| source state | meaning |\n| --- | --- |\n", 1)[1].split("\n\n", 1)[0]
    return [re.match(r"\| `(\w+)` \|", row).group(1) for row in table.splitlines()]  # type: ignore[union-attr]


def test_the_readme_lists_every_source_state_and_no_other() -> None:
    assert readme_states() == [state.value for state in SourceState]
