"""What `intracast run` prints at start: the URLs to open, and where mail lands."""

from __future__ import annotations

from intracast import __version__
from intracast.config import LoadedConfig


def banner(loaded: LoadedConfig, base_url: str) -> str:
    config = loaded.config
    lines = [f"intracast {__version__} is running on {base_url} (config {loaded.path})", ""]
    if config.screens:
        lines.append("Screens (open one per TV, in a kiosk browser):")
        lines += [f"  {s.name}: {base_url}/screens/{s.id}?token={s.token}" for s in config.screens]
    if config.admin is not None:
        lines.append(f"Admin pages:  {base_url}/admin/ (user {config.admin.username})")
    if config.smtp is None:
        lines.append(f"Mail outbox:  {loaded.resolve(config.storage.maildir)} (Maildir; no smtp is configured)")
    else:
        lines.append(f"Mail server:  {config.smtp.host}:{config.smtp.port}")
    lines += [f"Health:       {base_url}/healthz", f"Metrics:      {base_url}/metrics", "", "Stop with Ctrl+C."]
    return "\n".join(lines)
