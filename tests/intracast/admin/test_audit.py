"""Admin log lines: one per login and action, fields intact in text and in JSON, whatever was typed."""

from __future__ import annotations

import json
import logging

import pytest

from intracast.admin import audit
from intracast.logs import JsonFormatter


def json_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, str]]:
    return [json.loads(JsonFormatter().format(record)) for record in caplog.records]


def test_an_action_is_one_json_line_naming_who_did_what_to_what(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="intracast.admin"):
        audit.action("admin", "resubscribe", "bram@example.org")
        audit.login("failed", 'x" user=root\nadmin.login outcome=ok', "192.0.2.1")
    action, login = json_lines(caplog)
    assert (action["event"], action["user"], action["action"], action["target"]) == (
        "admin.action", "admin", "resubscribe", "bram@example.org")
    assert (login["event"], login["outcome"], login["ip"], login["level"]) == ("admin.login", "failed", "192.0.2.1",
                                                                            "warning")
    assert all("\n" not in record.getMessage() for record in caplog.records)
    assert login["user"].startswith("x\\\" user=root\\nadmin.login")
