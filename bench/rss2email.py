"""rss2email 3.14, the peer in the ingest scenario: what an admin would otherwise run from cron.

It is installed from PyPI into a virtual environment of its own, kept under
`~/.cache/intracast-bench/rss2email` (or `$XDG_CACHE_HOME`), so its
feedparser never meets ours and a second run installs nothing. Its config
file sends by SMTP (`email-protocol = smtp`) to the bench's sink on
loopback; its first run mails every entry of every feed, as it does for a
feed it has not seen (one SMTP connection per message: that is how 3.14
sends). When it cannot be installed, `install` says why instead of raising:
the check is then reported as not measured, never as met.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

VERSION = "3.14"


def home() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "intracast-bench" / "rss2email"


def install() -> Path | str:
    """The `r2e` command, installed if need be; or why it could not be."""
    venv = home()
    r2e = venv / "bin" / "r2e"
    if _version(r2e) == VERSION:
        return r2e
    steps = ([sys.executable, "-m", "venv", "--clear", str(venv)],
             [str(venv / "bin" / "pip"), "install", "--quiet", f"rss2email=={VERSION}"])
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            return f"{' '.join(step[-2:])} failed: {tail[0]}"
    return r2e if _version(r2e) == VERSION else f"rss2email {VERSION} installed, but r2e --version disagrees"


def _version(r2e: Path) -> str | None:
    if not r2e.exists():
        return None
    done = subprocess.run([str(r2e), "--version"], capture_output=True, text=True, timeout=60, check=False)
    return done.stdout.split()[-1] if done.returncode == 0 and done.stdout.split() else None


def write_config(folder: Path, urls: Sequence[str], smtp_port: int) -> Path:
    path = folder / "rss2email.cfg"
    feeds = "".join(f"\n[feed.f{n:04d}]\nurl = {url}\n" for n, url in enumerate(urls))
    path.write_text(
        "[DEFAULT]\n"
        "from = rss2email@example.org\n"
        "to = bench@example.org\n"
        "email-protocol = smtp\n"
        f"smtp-server = 127.0.0.1:{smtp_port}\n"
        "smtp-auth = False\n"
        "smtp-ssl = False\n"
        "verbose = warning\n" + feeds
    )
    return path


async def run(r2e: Path, config: Path) -> float:
    """Seconds for one `r2e run` over every feed of `config`, the interpreter's start included."""
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        str(r2e), "-c", str(config), "-d", str(config.with_suffix(".json")), "run",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    took = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"r2e run exited {process.returncode}: {stderr.decode()[-2000:]}")
    return took
