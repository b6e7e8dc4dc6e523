"""`intracast run` where it cannot listen: one line naming the address and `--listen`, exit 1, nothing started."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.intracast.test_cli import intracast


def test_a_second_daemon_on_a_busy_port_says_so_in_one_line(demo_config: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as first:
        address = f"127.0.0.1:{first.getsockname()[1]}"
        result = intracast("-c", str(demo_config), "run", "--listen", address)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"intracast: cannot listen on {address}: address already in use; another program listens there "
        "(a second intracast?); choose another address with --listen HOST:PORT or server.listen\n"
    )
    assert not (demo_config.parent.parent / "var" / "intracast.db").exists(), "it stopped before opening the store"


def test_a_malformed_listen_address_is_one_line_too(demo_config: Path) -> None:
    result = intracast("-c", str(demo_config), "run", "--listen", "127.0.0.1:http")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "intracast: cannot listen on 127.0.0.1:http: expected HOST:PORT such as 127.0.0.1:8080, "
        "got '127.0.0.1:http'; choose another address with --listen HOST:PORT or server.listen\n"
    )
