"""What a watcher needs of the machine: its working directory, user, group, program and
virtualenv (docs/configuration.md#environment-problems).

These are checked when the watcher starts, not when the file is loaded: a missing directory or
virtualenv fails that one watcher with its reason while the others run, and a start after it
has been created succeeds. `tuiman check` reports every problem (`environment_problems`).

The environment a virtualenv or `copy_path` gives is built as Circus 0.19 builds it
(`circus.util.load_virtualenv`, `circus.watcher.Watcher.__init__`), quirks included.
"""

from __future__ import annotations

import dataclasses
import grp
import os
import pwd
import sys
from dataclasses import dataclass

from tuiman.core.config.expand import SHELL_PATH, spawn_argv_env
from tuiman.core.config.model import WatcherConfig


class EnvironmentProblem(Exception):
    """The watcher cannot start on this machine; the message is the one-line reason."""


@dataclass(frozen=True)
class LaunchSettings:
    """What a start resolved: the environment template and the ids its processes get."""

    env: dict[str, str]
    uid: int | None
    gid: int | None

    def applied_to(self, config: WatcherConfig) -> WatcherConfig:
        return dataclasses.replace(config, env=self.env, uid=self.uid, gid=self.gid)


def which(program: str, search_path: str) -> str | None:
    """`shutil.which(program, path=search_path)` on POSIX, without importing shutil (which
    imports bz2 and lzma: ~0.3 MiB a manager would keep for this one lookup)."""
    if os.path.dirname(program):
        return program if _executable(program) else None
    if not search_path:
        return None
    seen: set[str] = set()
    for directory in search_path.split(os.pathsep):
        if directory not in seen:
            seen.add(directory)
            candidate = os.path.join(directory, program)
            if _executable(candidate):
                return candidate
    return None


def _executable(path: str) -> bool:
    return os.path.exists(path) and os.access(path, os.F_OK | os.X_OK) and not os.path.isdir(path)


def launch_settings(config: WatcherConfig) -> LaunchSettings | None:
    """The settings a start of `config` spawns with (None: the config's own, unchanged);
    `EnvironmentProblem` for the first thing missing. Blocking (stat, directory listing,
    user database): call it off the event loop."""
    problems = environment_problems(config)
    if problems:
        raise EnvironmentProblem(problems[0])
    return _settings(config)


def environment_problems(config: WatcherConfig) -> list[str]:
    """Every reason `config` cannot start here, one line each (`tuiman check` lists them)."""
    problems: list[str] = []
    directory_problem = _working_dir_problem(config)
    if directory_problem is not None:
        problems.append(directory_problem)
    uid, gid = config.uid, config.gid
    try:
        uid, gid = _ids(config)
    except EnvironmentProblem as problem:
        problems.append(str(problem))
    env = config.env
    try:
        env = watcher_environment(config)
    except EnvironmentProblem as problem:
        problems.append(str(problem))
    if directory_problem is None:
        program_problem = _program_problem(dataclasses.replace(config, env=env, uid=uid, gid=gid))
        if program_problem is not None:
            problems.append(program_problem)
    return problems


def _settings(config: WatcherConfig) -> LaunchSettings | None:
    uid, gid = _ids(config)
    env = watcher_environment(config)
    if env is config.env and (uid, gid) == (config.uid, config.gid):
        return None
    return LaunchSettings(env, uid, gid)


# --- environment -------------------------------------------------------------------------------


def watcher_environment(config: WatcherConfig) -> dict[str, str]:
    """`config.env` with `copy_path` and `virtualenv` applied (the same dict when neither is
    set). Circus sets PYTHONPATH from `copy_path` before it adds the watcher's variables, so a
    PYTHONPATH already in the environment wins."""
    if not config.copy_path and config.virtualenv is None:
        return config.env
    env = dict(config.env)
    if config.copy_path and "PYTHONPATH" not in env:
        env["PYTHONPATH"] = os.pathsep.join(sys.path)
    if config.virtualenv is not None:
        load_virtualenv(env, str(config.virtualenv), config.virtualenv_py_ver)
    return env


def load_virtualenv(env: dict[str, str], virtualenv: str, py_ver: str | None) -> None:
    """PATH and PYTHONPATH for `virtualenv`, as `circus.util.load_virtualenv` sets them."""
    version = py_ver or "{}.{}".format(*sys.version_info[:2])
    tried = [
        os.path.join(virtualenv, "lib", f"{flavour}{version}", "site-packages")
        for flavour in ("python", "pypy")
    ]
    sitedir = next((directory for directory in tried if os.path.exists(directory)), None)
    if sitedir is None:
        raise EnvironmentProblem(f"virtualenv: {','.join(tried)} does not exist")
    bindir = os.path.join(virtualenv, "bin")
    if os.path.exists(bindir):
        env["PATH"] = ":".join([bindir, env.get("PATH", "")])
    # Circus collects these in a set, so their order is arbitrary there; here it is the order
    # of the .pth files' names, then of their lines.
    packages = list(dict.fromkeys(_pth_packages(sitedir)))
    python_path = env.get("PYTHONPATH")
    path = None
    if packages:
        venv_path = os.pathsep.join(packages)
        path = os.pathsep.join([venv_path, python_path]) if python_path else venv_path
    if path and sitedir not in path.split(os.pathsep):
        path = os.pathsep.join([path, sitedir])
    else:
        # Circus' own branch: also taken when a .pth names the site directory itself, and then
        # the packages are dropped again.
        path = os.pathsep.join([python_path, sitedir]) if python_path else sitedir
    env["PYTHONPATH"] = path


def _pth_packages(sitedir: str) -> list[str]:
    packages: list[str] = []
    try:
        names = sorted(os.listdir(sitedir))
    except OSError:
        return packages
    for name in names:
        if not name.endswith(os.extsep + "pth"):
            continue
        try:
            with open(os.path.join(sitedir, name)) as pth_file:
                lines = pth_file.readlines()
        except (OSError, UnicodeDecodeError):
            continue
        for line in lines:
            if line.startswith(("#", "import")):
                continue
            package = os.path.abspath(os.path.join(sitedir, line.rstrip()))
            if os.path.exists(package):
                packages.append(package)
    return packages


# --- directory, ids, program -------------------------------------------------------------------


def _working_dir_problem(config: WatcherConfig) -> str | None:
    working_dir = config.working_dir
    if not os.path.exists(working_dir):
        return f"working_dir: directory {working_dir} does not exist"
    if not os.path.isdir(working_dir):
        return f"working_dir: {working_dir} is not a directory"
    if not os.access(working_dir, os.X_OK):
        return f"working_dir: directory {working_dir} is not accessible (permission denied)"
    return None


def _ids(config: WatcherConfig) -> tuple[int | None, int | None]:
    """uid and gid, with the names the loader could not find looked up again."""
    uid, gid = config.uid, config.gid
    if config.user is not None:
        try:
            uid = pwd.getpwnam(config.user).pw_uid
        except (KeyError, ValueError):
            raise EnvironmentProblem(f'uid: unknown user "{config.user}"') from None
        if uid != os.geteuid() and os.geteuid() != 0:
            raise EnvironmentProblem(
                "uid: setting uid to another than tuiman's own requires running as root"
            )
        if gid is None and config.group is None and os.geteuid() == 0:
            gid = pwd.getpwuid(uid).pw_gid
    if config.group is not None:
        try:
            gid = grp.getgrnam(config.group).gr_gid
        except (KeyError, ValueError):
            raise EnvironmentProblem(f'gid: unknown group "{config.group}"') from None
        if gid != os.getegid() and os.geteuid() != 0:
            raise EnvironmentProblem(
                "gid: setting gid to another than tuiman's own requires running as root"
            )
    return uid, gid


def _program_problem(config: WatcherConfig) -> str | None:
    """The program of the first process, looked up as the spawn will: on the child's PATH,
    relative to its working directory."""
    if config.shell or not config.cmd:
        program = SHELL_PATH if config.shell else ""
    else:
        program = spawn_argv_env(config, 1, max(config.numprocesses, 1))[0][0]
    if not program:
        return None
    if "/" in program:
        path = os.path.join(config.working_dir, program)
        if not os.path.exists(path):
            return f"cmd: program {program} does not exist"
        if os.path.isdir(path) or not os.access(path, os.X_OK):
            return f"cmd: program {program} is not executable"
        return None
    search_path = config.env.get("PATH")
    if which(program, os.defpath if search_path is None else search_path):
        return None
    if search_path is None:
        # Circus' default copy_env = false leaves PATH out: the spawn looks in os.defpath.
        return (
            f"cmd: program {program} not found on the default path {os.defpath} (the "
            "watcher's environment has no PATH: set copy_env = true, or PATH in its env)"
        )
    return f"cmd: program {program} not found on the watcher's PATH"
