"""The long-running `tuiman ctl` commands: `events`, `logs -f` and `quit --wait`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, cast

from tuiman import strict_json
from tuiman.control import render
from tuiman.control.client import ControlConnection, Unreachable, request
from tuiman.core.events import Kind, event_from_dict
from tuiman.core.payloads import OutputLineRecord, OutputPayload

EXIT_OK, EXIT_FAILED = 0, 3


def _emit(text: str) -> None:
    print(text, flush=True)  # a pipe reader sees every line at once


def _stream_error(message: dict[str, Any]) -> int:
    print(f"tuiman ctl: {message.get('error')}", file=sys.stderr)
    return EXIT_FAILED


def _line_record(message: dict[str, Any]) -> OutputLineRecord:
    """An `output` event as the `logs` command's line record."""
    output = cast(OutputPayload, message)
    return {
        "time": message["time"],
        "pid": output["pid"],
        "wid": output["wid"],
        "stream": output["stream"],
        "line": output["line"],
        "partial": output.get("partial", False),
    }


def print_events(socket_path: Path, options: argparse.Namespace) -> int:
    from tuiman.headless import LineFormatter, format_json, use_colour

    show_output = not options.no_output
    formatter = LineFormatter(use_colour(sys.stdout), show_output)
    with ControlConnection(socket_path) as connection:
        reply = connection.request("subscribe", output=show_output)
        if not reply.get("ok"):
            return _stream_error(reply)
        while (message := connection.receive()) is not None:
            if "seq" in message:
                event = event_from_dict(message)
                text = format_json(event, show_output) if options.json else formatter.format(event)
                if text is not None:
                    _emit(text)
            elif message.get("ok") is False:
                return _stream_error(message)
    return EXIT_OK


def _logs_arguments(options: argparse.Namespace) -> dict[str, Any]:
    arguments: dict[str, Any] = {"watcher": options.watcher, "n": options.lines}
    if options.pid is not None:
        arguments["pid"] = options.pid
    return arguments


def _print_line(options: argparse.Namespace, line: OutputLineRecord) -> None:
    _emit(strict_json.dumps(line) if options.json else render.log_line(options.watcher, line))


def _history(reply: dict[str, Any]) -> list[OutputLineRecord]:
    return cast(list[OutputLineRecord], reply.get("lines") or [])


def print_logs(socket_path: Path, options: argparse.Namespace) -> int:
    reply = request(socket_path, "logs", **_logs_arguments(options))
    if not reply.get("ok"):
        print(f"tuiman ctl: logs {options.watcher}: {reply.get('error')}", file=sys.stderr)
        return EXIT_FAILED
    for line in _history(reply):
        _print_line(options, line)
    return EXIT_OK


def follow_logs(socket_path: Path, options: argparse.Namespace) -> int:
    """The ring buffer's last lines, then every new line (history and stream do not overlap)."""
    with ControlConnection(socket_path) as connection:
        reply = connection.request("subscribe", output=True, logs=_logs_arguments(options))
        if not reply.get("ok"):
            return _stream_error(reply)
        for line in _history(reply):
            _print_line(options, line)
        while (message := connection.receive()) is not None:
            if "seq" in message:
                if message.get("kind") != Kind.OUTPUT or message.get("watcher") != options.watcher:
                    continue
                record = _line_record(message)
                if options.pid is None or record["pid"] == options.pid:
                    _print_line(options, record)
            elif message.get("ok") is False:
                return _stream_error(message)
    return EXIT_OK


def quit_instance(socket_path: Path, options: argparse.Namespace) -> int:
    with ControlConnection(socket_path) as connection:
        reply = connection.request("quit")
        if reply.get("ok") and options.force:
            reply = connection.request("force")
        if not reply.get("ok") or not options.wait:
            return _finish_quit(options, reply, "quit: queued")
        while connection.receive() is not None:
            pass
    _wait_until_gone(socket_path)
    return _finish_quit(options, reply, "quit: the instance has stopped")


def _wait_until_gone(socket_path: Path) -> None:
    """The server closes every connection as it exits; if it still answers, keep waiting."""
    while True:
        try:
            connection = ControlConnection(socket_path)
        except Unreachable:
            return
        with connection:
            while connection.receive() is not None:
                pass


def _finish_quit(options: argparse.Namespace, reply: dict[str, Any], human: str) -> int:
    if options.json:
        print(strict_json.dumps(reply))
    if reply.get("ok"):
        if not options.json:
            print(human)
        return EXIT_OK
    print(f"tuiman ctl: quit: {reply.get('error')}", file=sys.stderr)
    return EXIT_FAILED
