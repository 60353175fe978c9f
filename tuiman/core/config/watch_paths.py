"""Restart on change: the `watch` and `watch_ignore` patterns of a watcher
(docs/configuration.md#restart-on-change), as directories to watch and a path matcher.

Patterns are globs relative to the config file's directory: `*` and `?` match within one path
component, `[abc]` a character class, and `**` as a whole component any number of directories
(zero included). A pattern with no wildcard names one file. An ignore pattern without a `/`
matches a file or directory name at any depth (`__pycache__`, `*.log`); anything under an
ignored directory is ignored.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

_MAGIC = re.compile(r"[*?[]")


class WatchPatternError(ValueError):
    """A pattern that cannot be watched; the message names the problem."""


@dataclass(frozen=True)
class WatchRoot:
    """A directory the watcher must be told about, and whether its subdirectories too."""

    path: Path
    recursive: bool


@dataclass(frozen=True)
class FileWatch:
    """A watcher's `watch` keys, resolved: absolute patterns, ignores and the debounce."""

    patterns: tuple[str, ...]  # absolute globs
    ignore: tuple[str, ...]  # absolute globs, or bare name patterns (no "/")
    debounce: float  # seconds of quiet after a change before the restart
    base: Path  # the config file's directory: changed paths are shown relative to it

    def roots(self) -> list[WatchRoot]:
        """The directories to watch, the ones inside a recursive root left out."""
        roots = {pattern_root(pattern) for pattern in self.patterns}
        kept = [
            root
            for root in roots
            if not any(
                other.recursive and other != root and root.path.is_relative_to(other.path)
                for other in roots
            )
        ]
        return sorted(kept, key=lambda root: (str(root.path), root.recursive))

    def following_links(self) -> FileWatch:
        """With the file each named path resolves to (a symlink's target) as a named path too.
        Reads the file system: call it off the loop."""
        targets: list[str] = []
        for pattern in self.patterns:
            if is_literal(pattern):
                target = link_target(pattern)
                if target not in self.patterns and target not in targets:
                    targets.append(target)
        return replace(self, patterns=self.patterns + tuple(targets)) if targets else self

    def named(self) -> frozenset[str]:
        """The patterns without a wildcard: one file each."""
        return frozenset(pattern for pattern in self.patterns if is_literal(pattern))

    def matcher(self) -> PathMatcher:
        return PathMatcher(self)

    def shown(self, path: str) -> str:
        """`path` relative to the config's directory when it is inside it."""
        candidate = Path(path)
        if candidate.is_relative_to(self.base):
            return str(candidate.relative_to(self.base))
        return path


def link_target(path: str) -> str:
    """Where the symlink `path` ends up (through a chain of links), or `path` itself.

    Only the links themselves are followed, not the directories above them: a directory
    reached by two paths would be watched twice, and its changes reported under one of them.
    """
    current = path
    for _hop in range(40):  # the kernel's own limit on a chain of links
        try:
            link = os.readlink(current)
        except OSError:  # not a link (or gone): the chain ends here
            return current
        current = os.path.normpath(os.path.join(os.path.dirname(current), link))
    return current


def absolute_pattern(pattern: str, base: Path) -> str:
    """A `watch` pattern (`~` expanded) made absolute against the config file's directory."""
    if "\0" in pattern:
        raise WatchPatternError("contains a NUL character")
    text = os.path.expanduser(pattern.strip())
    if not text:
        raise WatchPatternError("empty pattern")
    joined = os.path.normpath(os.path.join(base, text))
    for component in joined.split("/"):
        if "**" in component and component != "**":
            raise WatchPatternError(f"** must be a whole path component, got {component!r}")
    _check_compiles(joined)
    return joined


def _check_compiles(pattern: str) -> None:
    try:
        glob_regex(pattern)
    except re.error as error:
        raise WatchPatternError(f"not a valid pattern ({error})") from None


def ignore_pattern(pattern: str, base: Path) -> str:
    """A `watch_ignore` pattern: a bare name pattern stays as it is, a path one is made absolute."""
    if "\0" in pattern:
        raise WatchPatternError("contains a NUL character")
    text = pattern.strip().rstrip("/")
    if not text:
        raise WatchPatternError("empty pattern")
    if "/" not in text and not text.startswith("~"):
        if "**" in text and text != "**":
            raise WatchPatternError(f"** must be a whole path component, got {text!r}")
        try:
            re.compile(component_regex(text))
        except re.error as error:
            raise WatchPatternError(f"not a valid pattern ({error})") from None
        return text
    return absolute_pattern(text, base)


def pattern_root(pattern: str) -> WatchRoot:
    """The deepest directory with no wildcard above the pattern's first wildcard."""
    components = pattern.split("/")
    for index, component in enumerate(components):
        if _MAGIC.search(component):
            root = Path("/".join(components[:index]) or "/")
            last = index == len(components) - 1
            return WatchRoot(root, recursive=not last or component == "**")
    return WatchRoot(Path(pattern).parent, recursive=False)


def is_literal(pattern: str) -> bool:
    return _MAGIC.search(pattern) is None


def component_regex(component: str) -> str:
    """One path component's glob as a regex (no anchors): wildcards never cross a `/`."""
    parts: list[str] = []
    index = 0
    while index < len(component):
        character = component[index]
        index += 1
        if character == "*":
            parts.append("[^/]*")
        elif character == "?":
            parts.append("[^/]")
        elif character == "[":
            end = component.find("]", index + 1 if component[index : index + 1] == "!" else index)
            if end < 0:
                parts.append(re.escape(character))
                continue
            bracket = component[index - 1 : end + 1]
            index = end + 1
            # fnmatch's translation of one bracket expression: it knows the edge cases
            # (`[!…]`, `]` first, `--`, characters of future set syntax).
            translated = fnmatch.translate(bracket)
            parts.append(translated[len("(?s:") : -len(")\\Z")])
        else:
            parts.append(re.escape(character))
    return "".join(parts)


def glob_regex(pattern: str) -> re.Pattern[str]:
    """An absolute glob as a regex over absolute paths."""
    components = pattern.split("/")[1:]
    regex = ""
    for component in components:
        if component == "**":
            regex += "(?:/[^/]+)*"
        else:
            regex += "/" + component_regex(component)
    return re.compile(regex or "/")


class PathMatcher:
    """Which changed paths count: they match a `watch` pattern and no ignore pattern."""

    def __init__(self, file_watch: FileWatch) -> None:
        self._literal = {p for p in file_watch.patterns if is_literal(p)}
        self._globs = [glob_regex(p) for p in file_watch.patterns if not is_literal(p)]
        self._ignored_names = [
            re.compile(component_regex(p)) for p in file_watch.ignore if "/" not in p
        ]
        self._ignored_paths = [glob_regex(p) for p in file_watch.ignore if "/" in p]
        self._base = file_watch.base

    def matches(self, path: str) -> bool:
        """Whether a change of `path` (absolute) restarts the watcher."""
        if self._ignored(path):
            return False
        if path in self._literal:
            return True
        return any(glob.fullmatch(path) for glob in self._globs)

    def by_glob_only(self, path: str) -> bool:
        """Matched by a wildcard, not named: the default ignores (editor files, .git) apply."""
        return path not in self._literal

    def _ignored(self, path: str) -> bool:
        candidate = Path(path)
        if any(
            glob.fullmatch(str(p))
            for p in (candidate, *candidate.parents)
            for glob in self._ignored_paths
        ):
            return True
        # Bare names look at the path below the config's directory, never at the directories
        # above it (a project in ~/build/app may still ignore `build`).
        if candidate.is_relative_to(self._base):
            names = candidate.relative_to(self._base).parts
        else:
            names = (candidate.name,)
        return any(regex.fullmatch(name) for name in names for regex in self._ignored_names)
