"""Restart on change in the UI: saving a watched file shows a `files changed` row in the
hook-event log, and the processes panel shows the new process."""

from __future__ import annotations

import textwrap
from pathlib import Path

from textual.widgets.data_table import CellDoesNotExist

from tests.support.core import build_arbiter
from tests.support.waiting import wait_until
from tests.ui.uihelpers import live_pids, make_app, running
from tuiman.ui.log_entries import Outcome


async def test_a_saved_file_shows_in_the_hook_log_and_restarts_the_process(
    tmp_path: Path,
) -> None:
    (tmp_path / "src").mkdir()
    toml = textwrap.dedent(
        """
        [watchers.web]
        cmd = "sleep 300"
        graceful_timeout = 2
        watch = "src/*.py"
        watch_debounce = 0.1
        """
    )
    arbiter = build_arbiter(tmp_path, toml)
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_until(lambda: live_pids(arbiter, "web"), pause=pilot.pause)
        await wait_until(lambda: arbiter.file_watch.watching("web"), pause=pilot.pause)
        [before] = live_pids(arbiter, "web")

        (tmp_path / "src" / "app.py").write_text("print('saved')\n")

        def files_changed_rows() -> list[str]:
            return [e.detail for e in app.main.hook_log.items if e.label == "files changed"]

        await wait_until(files_changed_rows, pause=pilot.pause)
        assert files_changed_rows() == ["src/app.py: restart"]
        rows = [e for e in app.main.hook_log.items if e.label == "files changed"]
        assert rows[0].watcher == "web" and rows[0].outcome == Outcome.INFO

        def new_process_shown() -> bool:
            pids = live_pids(arbiter, "web")
            if not pids or before in pids:
                return False
            table = app.main.processes_table
            try:
                state = str(table.get_cell(str(pids[0]), "state"))
            except CellDoesNotExist:  # the UI has not had the new process yet
                return False
            return table.row_count == 1 and state == "running"

        await wait_until(new_process_shown, pause=pilot.pause)
        await wait_until(
            lambda: any(
                e.label == "→ active" and e.detail == "from starting (file_change)"
                for e in app.main.hook_log.items
            ),
            pause=pilot.pause,
        )
