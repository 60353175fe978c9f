"""Where an instance's control socket lives, and the checks that make that place safe
(docs/control-protocol.md#where-the-socket-is).

The default directory (`$XDG_RUNTIME_DIR/tuiman`, else `/tmp/tuiman-<uid>`) is created 0700 and
refused unless it is a real directory (no symlink) owned by us with mode 0700: a pre-created or
symlinked directory in /tmp is the classic attack. An explicit `[tuiman].control_socket` is the
config author's choice: its directory must be owned by us (or root) and not writable by others.
Every directory above either one must be owned by us or root, and sticky if others may write to
it: in a world-writable, non-sticky parent another user could rename our directory away and put
their own in its place. Clients check the same path, and the server's uid (`verify_peer`).
"""

from __future__ import annotations

import os
import socket
import stat
import struct
import tomllib
from collections.abc import Mapping
from pathlib import Path

from tuiman.core.digest import hexdigest

SOCKET_SUFFIX = ".sock"
LOCK_SUFFIX = ".lock"
MAX_SOCKET_PATH_BYTES = 107  # sun_path is 108 bytes including the terminating NUL
DEFAULT_CONFIG_NAME = "tuiman.toml"


class ControlSetupError(Exception):
    """The control socket cannot be set up safely; tuiman exits 2 with this message."""


def instance_id(source: str) -> str:
    """A short, stable hash of a config's real path (or `demo:<cwd>`)."""
    return hexdigest("sha256", source.encode("utf-8", "surrogateescape"))[:16]


def runtime_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The per-user directory that holds default sockets."""
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_RUNTIME_DIR", "")
    if xdg and os.path.isabs(xdg) and os.path.isdir(xdg):
        return Path(xdg) / "tuiman"
    return Path(f"/tmp/tuiman-{os.geteuid()}")


def default_socket_path(source: str, environ: Mapping[str, str] | None = None) -> Path:
    return runtime_dir(environ) / f"{instance_id(source)}{SOCKET_SUFFIX}"


def lock_path_for(socket_path: Path) -> Path:
    """`<id>.lock` beside `<id>.sock` (any other name gets `.lock` appended)."""
    name = socket_path.name
    if name.endswith(SOCKET_SUFFIX) and len(name) > len(SOCKET_SUFFIX):
        return socket_path.with_name(name[: -len(SOCKET_SUFFIX)] + LOCK_SUFFIX)
    return socket_path.with_name(name + LOCK_SUFFIX)


def check_path_length(socket_path: Path) -> None:
    size = len(os.fsencode(socket_path))
    if size > MAX_SOCKET_PATH_BYTES:
        raise ControlSetupError(
            f"control socket path too long ({size} bytes,"
            f" at most {MAX_SOCKET_PATH_BYTES}): {socket_path}"
        )


def check_ancestors(directory: Path) -> None:
    """Every directory from `/` down to `directory` (symlinks resolved) is owned by us or root,
    and sticky if group or others may write to it."""
    real = Path(os.path.realpath(directory))
    for path in (*reversed(real.parents), real):
        info = _lstat(path)
        if info.st_uid not in (0, os.geteuid()):
            raise ControlSetupError(
                f"control directory {directory}: {path} is owned by uid {info.st_uid},"
                " not by us or root"
            )
        if info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
            raise ControlSetupError(
                f"control directory {directory}: {path} is writable by other users"
                " and not sticky; choose another directory (XDG_RUNTIME_DIR, control_socket)"
            )


def verify_peer(sock: socket.socket) -> None:
    """The process serving `sock` runs as us or as root (SO_PEERCRED), else ControlSetupError."""
    credentials = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, _gid = struct.unpack("3i", credentials)
    if uid not in (0, os.geteuid()):
        raise ControlSetupError(
            f"the control socket is served by uid {uid} (pid {pid}), not by us or root"
        )


def ensure_private_dir(directory: Path) -> None:
    """Create `directory` 0700, or accept it only if it is a real 0700 directory we own."""
    check_ancestors(directory.parent)
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ControlSetupError(
            f"cannot create control directory {directory}: {exc.strerror}"
        ) from None
    else:
        os.chmod(directory, 0o700)  # ours and brand new: undo a restrictive umask
    info = _lstat(directory)
    _require_real_dir(directory, info)
    if info.st_uid != os.geteuid():
        raise ControlSetupError(
            f"control directory {directory} is owned by uid {info.st_uid},"
            f" not by us (uid {os.geteuid()})"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode != 0o700:
        raise ControlSetupError(
            f"control directory {directory} has mode {mode:04o}; it must be 0700"
        )


def ensure_chosen_dir(directory: Path) -> None:
    """The directory of an explicit `control_socket`: created 0700 if missing, else checked."""
    try:
        os.makedirs(directory, 0o700, exist_ok=True)
    except OSError as exc:
        raise ControlSetupError(
            f"cannot create control directory {directory}: {exc.strerror}"
        ) from None
    resolved = Path(os.path.realpath(directory))
    check_ancestors(resolved.parent)
    info = _lstat(resolved)
    _require_real_dir(resolved, info)
    if info.st_uid not in (os.geteuid(), 0):
        raise ControlSetupError(
            f"control directory {resolved} is owned by uid {info.st_uid}, not by us or root"
        )
    if stat.S_IMODE(info.st_mode) & 0o022:
        raise ControlSetupError(
            f"control directory {resolved} is writable by other users; choose a private directory"
        )


def _lstat(path: Path) -> os.stat_result:
    try:
        return os.lstat(path)
    except OSError as exc:
        raise ControlSetupError(f"control directory {path}: {exc.strerror}") from None


def _require_real_dir(path: Path, info: os.stat_result) -> None:
    if stat.S_ISLNK(info.st_mode):
        raise ControlSetupError(f"control directory {path} is a symlink; refusing it")
    if not stat.S_ISDIR(info.st_mode):
        raise ControlSetupError(f"control directory {path} is not a directory")


def is_private_dir(directory: Path) -> bool:
    """True if `directory` exists and would pass `ensure_private_dir` (no side effects)."""
    try:
        info = os.lstat(directory)
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.geteuid()
        and stat.S_IMODE(info.st_mode) == 0o700
    )


# --- the client side: which socket belongs to a config file ------------------------------------


def socket_for_config_file(config: str, cwd: Path | None = None) -> Path:
    """The socket of the instance running `config`, as the loader would derive it.

    Only `[tuiman].control_socket` is read from the file, without validating anything else.
    """
    working_dir = cwd if cwd is not None else Path.cwd()
    absolute = Path(os.path.abspath(working_dir / os.path.expanduser(config)))
    chosen = read_control_socket(absolute)
    if chosen is not None:
        return Path(os.path.normpath(absolute.parent / os.path.expanduser(chosen)))
    return default_socket_path(real_path(absolute))


def read_control_socket(config_path: Path) -> str | None:
    if config_path.suffix.lower() != ".toml":
        return None
    try:
        with open(config_path, "rb") as config_file:
            document = tomllib.load(config_file)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    table = document.get("tuiman")
    value = table.get("control_socket") if isinstance(table, dict) else None
    return value if isinstance(value, str) and value else None


def real_path(path: Path) -> str:
    """The loader's notion of a config's real path (`Config.source`)."""
    try:
        return str(path.resolve())
    except (OSError, RuntimeError):
        return str(path)
