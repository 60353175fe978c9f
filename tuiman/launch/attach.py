"""`tuiman attach`: the full UI (docs/ui.md), driving a running tuiman through its control socket.

The UI talks to a `RemoteClient` instead of a `LocalClient`; `q` detaches and leaves the
instance running (quitting the instance is a palette action with a confirm).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from tuiman.argparsing import ArgumentParser
from tuiman.client.remote import RemoteClient
from tuiman.control.client import Unreachable
from tuiman.control.locate import NoInstance, locate_socket

EXIT_OK, EXIT_NO_INSTANCE, EXIT_USAGE = 0, 1, 2


def attach_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="tuiman attach",
        description="Open the UI on a running tuiman (headless or not); q detaches.",
    )
    parser.add_argument("-c", "--config", help="the running instance's config file")
    parser.add_argument("--socket", help="its control socket (or TUIMAN_SOCKET)")
    return parser


def main(argv: list[str]) -> int:
    options = attach_parser().parse_args(argv)
    if not sys.stdout.isatty():
        print("tuiman attach: stdout is not a terminal", file=sys.stderr)
        return EXIT_USAGE
    try:
        socket_path = locate_socket(options.socket, options.config)
    except NoInstance as error:
        print(f"tuiman attach: {error}", file=sys.stderr)
        return EXIT_NO_INSTANCE
    return asyncio.run(attach(socket_path))


async def attach(socket_path: object, headless: bool = False) -> int:
    from pathlib import Path

    from tuiman.ui.app import TuimanApp

    try:
        client = await RemoteClient.connect(Path(str(socket_path)))
    except (Unreachable, OSError) as error:
        print(f"tuiman attach: no tuiman answers on {socket_path}: {error}", file=sys.stderr)
        return EXIT_NO_INSTANCE
    try:
        app = TuimanApp(client)
        await app.run_async(headless=headless)
        return EXIT_OK if app.return_code in (None, 0) else int(app.return_code or 1)
    finally:
        await client.aclose()
