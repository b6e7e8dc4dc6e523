from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHIPPED_CONFIG = REPO / "config" / "intracast.yaml"


@pytest.fixture
def demo_config(tmp_path: Path) -> Path:
    """The shipped config, copied so that its `../var` lands in tmp_path."""
    path = tmp_path / "config" / "intracast.yaml"
    path.parent.mkdir()
    shutil.copy(SHIPPED_CONFIG, path)
    return path
