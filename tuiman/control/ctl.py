"""`tuiman ctl`: control a running tuiman through its socket (docs/control-protocol.md#tuiman-ctl).

Exit codes: 0 ok (without --wait: once queued); 3 the command failed, or with --wait the target
state was not reached; 1 no tuiman listening; 2 usage. Human tables by default, --json for
machines. No client timeout while waiting.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tuiman import strict_json
from tuiman.argparsing import ArgumentParser
from tuiman.control import render
from tuiman.control.client import Unreachable, request
from tuiman.control.locate import NoInstance, locate_socket

EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3

Handler = Callable[[Path, argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    common = ArgumentParser(add_help=False)
    common.add_argument(
        "-c", "--config", default=argparse.SUPPRESS, help="the instance running CONFIG"
    )
    common.add_argument(
        "--socket", default=argparse.SUPPRESS, help="control socket path (or TUIMAN_SOCKET)"
    )
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="machine output"
    )
    parser = ArgumentParser(
        prog="tuiman ctl", description="Control a running tuiman.", parents=[common]
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=ArgumentParser
    )

    def add(name: str, summary: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, parents=[common], help=summary, description=summary)

    def wait_flag(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--wait", action="store_true", help="return once done (exit 3 if it failed)"
        )

    add("list", "watcher names, in start order")
    add("status", "watchers, their state and processes").add_argument("watcher", nargs="?")
    for name, summary in (
        ("start", "start"),
        ("stop", "stop"),
        ("restart", "restart"),
        ("reload", "reload"),
    ):
        sub = add(name, f"{summary} one watcher, or all")
        sub.add_argument("watcher", nargs="?")
        wait_flag(sub)
    add("reloadconfig", "re-read the config file and apply its changes")
    sub = add("signal", "send a signal: signal WATCHER [PID] SIGNAL")
    sub.add_argument("target", nargs="+", metavar="WATCHER [PID] SIGNAL")
    sub.add_argument("--group", action="store_true", help="signal the process groups")
    sub = add("kill", "graceful stop of one process (its slot respawns)")
    sub.add_argument("watcher")
    sub.add_argument("pid", type=int)
    wait_flag(sub)
    for name in ("incr", "decr"):
        sub = add(name, f"{'add' if name == 'incr' else 'remove'} N processes (default 1)")
        sub.add_argument("watcher")
        sub.add_argument("n", nargs="?", type=int, default=1)
        wait_flag(sub)
    sub = add("set", "set WATCHER numprocesses N")
    sub.add_argument("watcher")
    sub.add_argument("key", choices=["numprocesses"])
    sub.add_argument("value", type=int)
    wait_flag(sub)
    sub = add("stats", "CPU, memory and threads per process")
    sub.add_argument("watcher", nargs="?")
    sub.add_argument(
        "--extended", action="store_true", help="add what the extended_stats hook reports"
    )
    sub = add("logs", "recent output of a watcher (from the ring buffer)")
    sub.add_argument("watcher")
    sub.add_argument("pid", nargs="?", type=int)
    sub.add_argument("-n", "--lines", type=int, default=100, help="how many lines (default 100)")
    sub.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    sub = add("events", "print the event bus, like tuiman --headless")
    sub.add_argument("--no-output", action="store_true", help="hide process output lines")
    sub = add("send", "write TEXT (or named keys) to a process' terminal or stdin pipe")
    sub.add_argument("watcher")
    sub.add_argument("text", nargs="+", metavar="TEXT", help="text; with --keys: key names")
    sub.add_argument("--pid", type=int, help="only this process (default: every running one)")
    sub.add_argument(
        "--keys",
        action="store_true",
        help="TEXT are key names: Enter Tab Escape Up Down Left Right C-c F1 ...",
    )
    sub = add("wait", "wait until watchers are ready (exit 3 if not, saying why)")
    sub.add_argument("watchers", nargs="*", metavar="WATCHER", help="default: every autostart one")
    sub.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait at most (default 60)"
    )
    add("reopen-logs", "reopen output files (after logrotate)")
    sub = add("quit", "stop every watcher and end the instance")
    sub.add_argument("--wait", action="store_true", help="return once the instance has stopped")
    sub.add_argument("--force", action="store_true", help="SIGKILL everything now (second quit)")
    return parser


def main(argv: Sequence[str]) -> int:
    options = build_parser().parse_args(list(argv))
    options.json = getattr(options, "json", False)
    try:
        socket_path = locate_socket(
            getattr(options, "socket", None), getattr(options, "config", None)
        )
        return HANDLERS[options.command](socket_path, options)
    except (NoInstance, Unreachable) as exc:
        print(f"tuiman ctl: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        return 130


# --- replies -------------------------------------------------------------------------------------


def finish(
    options: argparse.Namespace,
    label: str,
    reply: dict[str, Any],
    human: str | None = None,
    errors_key: str = "errors",
) -> int:
    """Print a reply (JSON or human) and turn it into an exit code."""
    if options.json:
        print(strict_json.dumps(reply))
    if reply.get("ok"):
        if not options.json:
            print(
                human
                if human is not None
                else f"{label}: {'queued' if reply.get('queued') else 'ok'}"
            )
        return EXIT_OK
    print(f"tuiman ctl: {label}: {reply.get('error')}", file=sys.stderr)
    for line in reply.get(errors_key) or []:
        print(f"  {line}", file=sys.stderr)
    return EXIT_FAILED


def explain_hook_failure(socket_path: Path, watcher: str | None, error: str) -> str | None:
    """For `hook_failure:<hook>`, the error the hook raised (from the recent hook events)."""
    marker = "hook_failure:"
    if marker not in error:
        return None
    hook = error.split(marker, 1)[1].split(":", 1)[0].split(";", 1)[0].strip()
    reply = request(socket_path, "hook_events", n=200)
    for event in reversed(reply.get("events") or []):
        matches = event.get("kind") == "hook_failure" and event.get("name") == hook
        if matches and (watcher is None or event.get("watcher") == watcher):
            return f"hook {hook} failed: {event.get('error')}"
    return None


def watcher_command(command: str) -> Handler:
    def handle(socket_path: Path, options: argparse.Namespace) -> int:
        arguments: dict[str, Any] = {}
        if options.watcher is not None:
            arguments["watcher"] = options.watcher
        if options.wait:
            arguments["wait"] = True
        label = f"{command} {options.watcher or '(all)'}"
        reply = request(socket_path, command, **arguments)
        code = finish(options, label, reply, f"{label}: {'done' if options.wait else 'queued'}")
        if code == EXIT_FAILED:
            detail = explain_hook_failure(socket_path, options.watcher, str(reply.get("error", "")))
            if detail:
                print(f"  {detail}", file=sys.stderr)
        return code

    return handle


def scale_command(command: str) -> Handler:
    def handle(socket_path: Path, options: argparse.Namespace) -> int:
        arguments: dict[str, Any] = {"watcher": options.watcher}
        if command == "set":
            arguments["numprocesses"] = options.value
        else:
            arguments["n"] = options.n
        if options.wait:
            arguments["wait"] = True
        return finish(
            options, f"{command} {options.watcher}", request(socket_path, command, **arguments)
        )

    return handle


# --- the commands --------------------------------------------------------------------------------


def cmd_list(socket_path: Path, options: argparse.Namespace) -> int:
    reply = request(socket_path, "list")
    return finish(options, "list", reply, "\n".join(reply.get("watchers") or []))


def cmd_status(socket_path: Path, options: argparse.Namespace) -> int:
    arguments = {"watcher": options.watcher} if options.watcher else {}
    reply = request(socket_path, "status", **arguments)
    watchers = reply.get("watchers") or []
    human = render.status_table(watchers)
    if options.watcher and watchers:
        human += "\n\n" + render.processes_table(watchers[0])
    protection = reply.get("protection")
    if isinstance(protection, dict):
        human += "\n\n" + render.protection_lines(protection)
    sockets = reply.get("sockets")
    if isinstance(sockets, list) and sockets:
        human += "\n" + render.sockets_lines(sockets)
    return finish(options, "status", reply, human)


def cmd_reloadconfig(socket_path: Path, options: argparse.Namespace) -> int:
    reply = request(socket_path, "reloadconfig")
    changes = reply.get("changes") or []
    return finish(
        options,
        "reloadconfig",
        reply,
        "\n".join(changes) if changes else "reloadconfig: no changes",
    )


def cmd_signal(socket_path: Path, options: argparse.Namespace) -> int:
    target = options.target
    if len(target) not in (2, 3):
        print("tuiman ctl signal: error: expected WATCHER [PID] SIGNAL", file=sys.stderr)
        return EXIT_USAGE
    arguments: dict[str, Any] = {"watcher": target[0], "signal": target[-1]}
    if len(target) == 3:
        if not target[1].isdigit():
            print(
                f"tuiman ctl signal: error: PID must be a number, got {target[1]!r}",
                file=sys.stderr,
            )
            return EXIT_USAGE
        arguments["pid"] = int(target[1])
    if options.group:
        arguments["group"] = True
    label = f"signal {' '.join(target)}"
    return finish(options, label, request(socket_path, "signal", **arguments), f"{label}: sent")


def cmd_kill(socket_path: Path, options: argparse.Namespace) -> int:
    arguments: dict[str, Any] = {"watcher": options.watcher, "pid": options.pid}
    if options.wait:
        arguments["wait"] = True
    return finish(
        options, f"kill {options.watcher} {options.pid}", request(socket_path, "kill", **arguments)
    )


def cmd_stats(socket_path: Path, options: argparse.Namespace) -> int:
    if not options.extended:
        arguments = {"watcher": options.watcher} if options.watcher else {}
        reply = request(socket_path, "stats", **arguments)
    else:
        names = (
            [options.watcher]
            if options.watcher
            else request(socket_path, "list").get("watchers") or []
        )
        reply = {"ok": True, "watchers": {}}
        for name in names:
            part = request(socket_path, "stats", watcher=name, extended=True)
            if not part.get("ok"):
                reply = part
                break
            reply["watchers"].update(part.get("watchers") or {})
    return finish(options, "stats", reply, render.stats_table(reply.get("watchers") or {}))


def cmd_send(socket_path: Path, options: argparse.Namespace) -> int:
    arguments: dict[str, Any] = {"watcher": options.watcher}
    if options.keys:
        arguments["keys"] = list(options.text)
    else:
        arguments["text"] = " ".join(options.text)
    if options.pid is not None:
        arguments["pid"] = options.pid
    label = f"send {options.watcher}"
    reply = request(socket_path, "send", **arguments)
    return finish(options, label, reply, f"{label}: sent to {reply.get('processes')} process(es)")


def cmd_reopen_logs(socket_path: Path, options: argparse.Namespace) -> int:
    return finish(options, "reopen-logs", request(socket_path, "reopen-logs"))


def cmd_quit(socket_path: Path, options: argparse.Namespace) -> int:
    from tuiman.control.streams import quit_instance

    return quit_instance(socket_path, options)


def cmd_logs(socket_path: Path, options: argparse.Namespace) -> int:
    from tuiman.control.streams import follow_logs, print_logs

    return follow_logs(socket_path, options) if options.follow else print_logs(socket_path, options)


def cmd_events(socket_path: Path, options: argparse.Namespace) -> int:
    from tuiman.control.streams import print_events

    return print_events(socket_path, options)


def cmd_wait(socket_path: Path, options: argparse.Namespace) -> int:
    if not options.timeout > 0:
        print("tuiman ctl wait: error: --timeout must be > 0", file=sys.stderr)
        return EXIT_USAGE
    reply = request(socket_path, "wait", watchers=options.watchers, timeout=options.timeout)
    label = f"wait {' '.join(options.watchers) or '(all)'}"
    return finish(
        options,
        label,
        reply,
        f"ready: {', '.join(reply.get('ready') or [])}",
        errors_key="waiting",
    )


HANDLERS: dict[str, Handler] = {
    "list": cmd_list,
    "status": cmd_status,
    "start": watcher_command("start"),
    "stop": watcher_command("stop"),
    "restart": watcher_command("restart"),
    "reload": watcher_command("reload"),
    "reloadconfig": cmd_reloadconfig,
    "signal": cmd_signal,
    "kill": cmd_kill,
    "incr": scale_command("incr"),
    "decr": scale_command("decr"),
    "set": scale_command("set"),
    "stats": cmd_stats,
    "logs": cmd_logs,
    "events": cmd_events,
    "reopen-logs": cmd_reopen_logs,
    "send": cmd_send,
    "quit": cmd_quit,
    "wait": cmd_wait,
}
