from __future__ import annotations

import json
import logging

from intracast.logs import JsonFormatter, TextFormatter


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("intracast.ingest", logging.INFO, __file__, 1, message, args, None)


def test_json_lines_carry_the_event_and_its_fields() -> None:
    line = JsonFormatter().format(record("source.fetched source=%s items=%d took=%.2fs error=%r", "news", 12, 0.21, "a b"))
    entry = json.loads(line)
    assert entry["event"] == "source.fetched"
    assert entry["level"] == "info"
    assert (entry["source"], entry["items"], entry["took"]) == ("news", "12", "0.21s")
    assert entry["error"] == "'a"  # a quoted repr with spaces is kept whole in `message`
    assert entry["message"] == "source.fetched source=news items=12 took=0.21s error='a b'"


def test_text_lines_are_one_line_per_event() -> None:
    line = TextFormatter().format(record("source.fetched source=%s new=%d", "news", 3))
    assert line.endswith(" INFO    intracast.ingest: source.fetched source=news new=3")
    assert "\n" not in line
