"""One try of a probe (docs/readiness.md#probes): a TCP connect, an HTTP GET, a command, and
the memory and CPU use of a process with its children.

Network probes are asyncio connections (they never block the loop); a command runs as its
own process group, killed whole at its timeout; `/proc` reads go to a thread. Each check
answers None when it passed, else one line saying why not.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tuiman.core.config.probe_model import ProbeKind
from tuiman.core.lazy_ssl import ssl_for_asyncio
from tuiman.core.processes.procfs import read_small, stat_fields, task_children

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_HTTP_HEAD_LIMIT = 8192


async def check(kind: ProbeKind, target: str, timeout: float, env: Mapping[str, str]) -> str | None:
    """One try of a tcp, http or exec probe, at most `timeout` seconds."""
    try:
        if kind in ("tcp", "http"):
            # asyncio.timeout, not wait_for: no extra task per try (3.11's wait_for makes one)
            async with asyncio.timeout(timeout):
                return await (_tcp(target) if kind == "tcp" else _http(target))
        if kind == "exec":
            return await _exec(target, timeout, env)
    except TimeoutError:
        return f"no answer within {timeout:g}s"
    except OSError as error:
        if _is_tls_error(error):  # an OSError whose errno means nothing
            return f"TLS: {getattr(error, 'reason', None) or error}"
        if error.errno:  # asyncio's "Connect call failed (...)": say what the system said
            return os.strerror(error.errno).lower()
        return error.strerror or str(error)
    except ValueError as error:  # a target that expanded to something unusable
        return str(error)
    except Exception as error:  # what a server sends is not ours to trust: a failed try
        return f"{type(error).__name__}: {error}"
    return f"{kind} is not a probe that is tried"


def split_host_port(target: str) -> tuple[str, int]:
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got {target!r}")
    return host.strip("[]"), int(port)


async def _tcp(target: str) -> str | None:
    # A bare non-blocking socket: no transport or stream objects for a connect-and-close, which
    # is most of the cost with hundreds of processes probed every second.
    host, port = split_host_port(target)
    loop = asyncio.get_running_loop()
    family, address = _numeric_address(host, port)
    if address is None:  # a name: resolved in the loop's executor, as asyncio does
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, address = infos[0][0], infos[0][4]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setblocking(False)
        await loop.sock_connect(probe, address)
    return None


def _numeric_address(host: str, port: int) -> tuple[int, Any]:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except OSError:
            continue
        return family, (host, port)
    return socket.AF_INET, None


async def _http(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL, got {url!r}")
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    context = ssl_for_asyncio().create_default_context() if secure else None
    reader, writer = await asyncio.open_connection(parts.hostname, port, ssl=context)
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.netloc.rpartition("@")[2]
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: tuiman-probe\r\n"
            "Connection: close\r\n\r\n".encode("latin-1")
        )
        await writer.drain()
        status_line = await reader.readline()
    finally:
        writer.close()
        with contextlib.suppress(OSError):  # ssl.SSLError included
            await writer.wait_closed()
    fields = status_line[:_HTTP_HEAD_LIMIT].decode("latin-1").split(maxsplit=2)
    if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
        return "not an HTTP answer" if status_line else "connection closed without an answer"
    status = int(fields[1])
    if 200 <= status < 400:
        return None
    return f"HTTP {status}" + (f" {fields[2].strip()}" if len(fields) > 2 else "")


def _is_tls_error(error: OSError) -> bool:
    ssl = sys.modules.get("ssl")  # not imported: no https probe ran, so no TLS error either
    return ssl is not None and isinstance(error, ssl.SSLError)


async def _exec(command: str, timeout: float, env: Mapping[str, str]) -> str | None:
    process = await asyncio.create_subprocess_exec(
        "/bin/sh",
        "-c",
        command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env=dict(env),
        start_new_session=True,  # its own group: a timeout kills the command with its children
    )
    try:
        code = await asyncio.wait_for(process.wait(), timeout)
    except (TimeoutError, asyncio.CancelledError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(process.wait()), 5.0)
        raise
    if code == 0:
        return None
    return f"exited with {code}" if code > 0 else f"killed by signal {-code}"


@dataclass(frozen=True, slots=True)
class TreeUsage:
    rss: int  # bytes, the process and its descendants
    cpu_ticks: int  # user + system clock ticks of the process and its live descendants


def tree_usage(pid: int) -> TreeUsage | None:
    """Blocking `/proc` reads: run it in a thread. None when the process is gone."""
    rss = ticks = 0
    pending, seen = [pid], set[int]()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        fields = stat_fields(current)
        statm = read_small(f"/proc/{current}/statm")
        if fields is None or not statm:
            if current == pid:
                return None
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
        rss += int(statm.split()[1]) * _PAGE_SIZE
        pending.extend(task_children(current))
    return TreeUsage(rss, ticks)


def cpu_percent(before: TreeUsage, after: TreeUsage, seconds: float) -> float:
    if seconds <= 0:
        return 0.0
    return max(after.cpu_ticks - before.cpu_ticks, 0) / _CLOCK_TICKS / seconds * 100.0


def format_bytes(size: float) -> str:
    for unit in ("B", "K", "M", "G"):
        if size < 1024:
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1024
    return f"{size:.1f}T"
