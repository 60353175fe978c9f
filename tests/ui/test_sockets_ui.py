"""Sockets in the UI: a watcher's info line and info dialog name its sockets; an on_demand
watcher says it waits for a connection."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.support.core import build_arbiter
from tests.support.socket_children import http_get, write_children
from tests.support.waiting import wait_until
from tests.ui.test_info_dialog import dialog_text
from tests.ui.uihelpers import PYTHON, make_app, running, watcher_cell
from tuiman.ui.screens.info import InfoScreen


async def test_an_on_demand_watcher_shows_its_socket_and_starts_on_a_connection(
    tmp_path: Path,
) -> None:
    write_children(tmp_path)
    arbiter = build_arbiter(
        tmp_path,
        f"""
        [sockets.web]
        host = "127.0.0.1"
        port = 0

        [watchers.web]
        cmd = ["{PYTHON}", "server.py", "$(tuiman.sockets.web)"]
        use_sockets = true
        on_demand = true
        """,
    )
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        # The row says so from the config; the socket is bound a moment later, in a thread.
        await wait_until(
            lambda: (
                watcher_cell(app, "web", "info") == "starts on a connection"
                and "web" in arbiter.sockets.bound
            ),
            pause=pilot.pause,
        )
        bound = arbiter.sockets.bound["web"]
        panel = app.main.query_one("#processes-panel")
        await wait_until(
            lambda: str(panel.border_subtitle).startswith(
                f"on demand · socket web {bound.location} fd {bound.fd} · "
            ),
            pause=pilot.pause,
        )
        await pilot.press("i")
        await wait_until(lambda: isinstance(app.screen, InfoScreen), pause=pilot.pause)
        text = dialog_text(app)
        assert f"socket web {bound.location} fd {bound.fd}" in text
        assert "on demand starts on the first connection to its sockets" in text
        await pilot.press("escape")
        await wait_until(lambda: not isinstance(app.screen, InfoScreen), pause=pilot.pause)
        reply = asyncio.ensure_future(asyncio.to_thread(http_get, bound.sock.getsockname()[1]))
        await wait_until(lambda: watcher_cell(app, "web", "state") == "active", pause=pilot.pause)
        assert int(await reply) in arbiter.get("web").processes
        await wait_until(lambda: watcher_cell(app, "web", "info") == "", pause=pilot.pause)
