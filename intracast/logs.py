"""Logging: one line per event, `area.event key=value ...`, as text or JSON.

Code logs `log.info("source.fetched source=%s items=%d", ...)`; the JSON
format splits that line into an event name and fields, so both formats come
from the same call.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Literal

_FIELD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        line = f"{when[:-4]}Z {record.levelname:<7} {record.name}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        event, _, rest = message.partition(" ")
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": event,
        }
        entry.update((key, value.strip('"')) for key, value in _FIELD.findall(rest))
        entry["message"] = message
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "info", fmt: Literal["text", "json"] = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # These log routine steps at INFO that our own events already say, once.
    for chatty in ("apscheduler", "alembic", "aiohttp.access", "watchfiles"):
        logging.getLogger(chatty).setLevel(max(root.level, logging.WARNING))
