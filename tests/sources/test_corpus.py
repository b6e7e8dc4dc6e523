"""The feed corpus: real products' feed shapes, each body beside its reviewed items.

`tests/data/feeds/NAME.EXT` is a body as a server sends it;
`NAME.expected.json` holds the source options, the response (URL, media
type, charset), the fetch time, and the items the adapter's parser must
give, exactly (plus `next_url` for a paginated page). Any adapter type
takes part: a new `.ics` or feed joins by adding its two files.

`INTRACAST_REGENERATE=1 pytest tests/sources/test_corpus.py -k NAME`
rewrites NAME's items from the current code (without -k: every file, the
other adapters' too). A regenerated file is a proposal, not a truth: read
its diff, item by item, before committing it.
"""

from __future__ import annotations

import json
import os
import pickle
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from sources import registry
from sources.remote import Page, Parsed

FEEDS = Path(__file__).resolve().parent.parent / "data" / "feeds"
SUFFIX = ".expected.json"
EXPECTED = sorted(FEEDS.glob(f"*{SUFFIX}"))
REGENERATE = os.environ.get("INTRACAST_REGENERATE") == "1"


def body_file(expected: Path) -> Path:
    name = expected.name.removesuffix(SUFFIX)
    bodies = [path for path in FEEDS.iterdir()
              if path.name.startswith(f"{name}.") and "." not in path.name.removeprefix(f"{name}.")]
    assert len(bodies) == 1, f"{expected.name}: expected one body file {name}.EXT, found {bodies}"
    return bodies[0]


def parse(spec: dict[str, Any], body: bytes) -> Parsed:
    options_model, adapter = registry.adapter(spec["options"]["type"])
    options = options_model.model_validate(spec["options"])
    response = spec["page"]
    page = Page(url=response["url"], body=body, content_type=response["content_type"],
                charset=response["charset"], fetched_at=datetime.fromisoformat(spec["fetched_at"]))
    parser = adapter.parser  # type: ignore[attr-defined]
    # The parser runs in a worker process: it, its input and its output must survive pickling.
    assert pickle.loads(pickle.dumps(parser)) is parser
    parsed = parser(*pickle.loads(pickle.dumps((page, options))))
    assert pickle.loads(pickle.dumps(parsed)) == parsed
    return parsed


@pytest.mark.parametrize("expected", EXPECTED, ids=lambda path: path.name.removesuffix(SUFFIX))
def test_feed_gives_its_reviewed_items(expected: Path) -> None:
    spec = json.loads(expected.read_text(encoding="utf-8"))
    parsed = parse(spec, body_file(expected).read_bytes())
    items, next_url = [item.as_json() for item in parsed.items], parsed.next_url
    if REGENERATE:
        spec["items"] = items
        spec.pop("next_url", None)
        if next_url is not None:
            spec["next_url"] = next_url
        expected.write_text(json.dumps(spec, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return
    assert items == spec["items"]
    assert next_url == spec.get("next_url")


def test_corpus_is_broad() -> None:
    assert len(EXPECTED) >= 15, [path.name for path in EXPECTED]
