"""The keys of the main screen: stable binding ids (remappable), and when each action applies."""

from __future__ import annotations

from dataclasses import replace

from textual.binding import Binding, BindingsMap, BindingType

from tuiman.core.states import WatcherState
from tuiman.ui.views import WatcherView

SCALE = Binding.Group("scale", compact=True)
QUIT_TOOLTIP = "Stop everything gracefully and quit (asks first; ctrl+k kills at once)"
DETACH_TOOLTIP = "Detach: close this UI, the instance keeps running"
WATCHER_ACTIONS = frozenset(
    {"start", "stop", "restart", "reload", "signal", "scale", "extended", "info"}
)


def _binding(
    key: str, action: str, description: str, tooltip: str, binding_id: str, **extra: object
) -> Binding:
    return Binding(key, action, description, tooltip=tooltip, id=binding_id, **extra)  # type: ignore[arg-type]


MAIN_BINDINGS: list[BindingType] = [
    _binding(
        "s",
        "start",
        "start",
        "Start the selected watcher (retry now if flapping or failed)",
        "start",
    ),
    _binding("x", "stop", "stop", "Stop the selected watcher gracefully", "stop"),
    _binding(
        "x",
        "stop_process",
        "stop proc",
        "Stop the selected process gracefully (its slot respawns)",
        "stop-process",
    ),
    _binding("r", "restart", "restart", "Restart the selected watcher", "restart"),
    _binding(
        "r",
        "restart_process",
        "restart proc",
        "Restart the selected process (graceful stop, respawn)",
        "restart-process",
    ),
    _binding(
        "R",
        "reload",
        "reload",
        "Graceful reload of the selected watcher: new processes first, then the old ones stop",
        "graceful-reload",
        show=False,
    ),
    _binding(
        "k",
        "signal",
        "signal",
        "Send a signal to the watcher's processes, or to the selected one",
        "signal",
    ),
    _binding(
        "plus,equals_sign",
        "scale(1)",
        "+1",
        "Add a process to the selected watcher",
        "scale-up",
        group=SCALE,
    ),
    _binding(
        "minus",
        "scale(-1)",
        "-1",
        "Remove the oldest process of the selected watcher",
        "scale-down",
        group=SCALE,
    ),
    _binding(
        "n",
        "scale_to",
        "scale to",
        "Scale the selected watcher to a number of processes you type",
        "scale-to",
        show=False,
    ),
    _binding(
        "t",
        "type",
        "type",
        "Typing mode: every key goes to the pty process shown in the output pane (^] leaves)",
        "type",
    ),
    # help and quit before the rest: on 80 columns the Footer cuts off its last keys
    _binding("question_mark", "help", "help", "Show every key", "help"),
    _binding("q", "app.quit", "quit", QUIT_TOOLTIP, "quit"),
    _binding(
        "e",
        "extended",
        "ext",
        "Extended stats columns (calls the extended_stats hook)",
        "extended-stats",
    ),
    _binding("slash", "filter", "filter", "Filter the watchers by name", "filter"),
    _binding(
        "ctrl+f",
        "search",
        "find",
        "Search the output pane (enter / up: older, down: newer)",
        "search",
    ),
    _binding("tab", "cycle(1)", "panel", "Move to the next panel", "next-panel", show=False),
    _binding(
        "shift+tab",
        "cycle(-1)",
        "panel",
        "Move to the previous panel",
        "previous-panel",
        show=False,
    ),
    _binding(
        "z", "zoom", "zoom", "Maximize the focused panel (again to restore)", "zoom", show=False
    ),
    _binding(
        "i",
        "info",
        "info",
        "Everything about the selected watcher (and process): command, env, policy, hooks, exits",
        "info",
        show=False,
    ),
    _binding(
        "D",
        "dependencies",
        "deps",
        "The dependency tree: what the selected watcher needs and what needs it, then all",
        "dependencies",
        show=False,
    ),
    _binding(
        "o",
        "sort",
        "sort",
        "Sort the tables: config order, name, state, CPU, memory, restarts (or click a header)",
        "sort",
        show=False,
    ),
    _binding("escape", "close_inputs", "close", "Close the filter or search box", "close-input"),
    _binding(
        "ctrl+r",
        "app.reload_config",
        "reload config",
        "Re-read the config file and apply what changed (as SIGHUP or ctl reloadconfig)",
        "reload-config",
        show=False,
    ),
    _binding(
        "w",
        "wrap",
        "wrap",
        "Output pane: wrap long lines at the pane width, or scroll them sideways (remembered)",
        "wrap",
        show=False,
    ),
    _binding(
        "T",
        "timestamps",
        "times",
        "Output pane: show each line's arrival time (remembered)",
        "timestamps",
        show=False,
    ),
    _binding(
        "a",
        "combined_output",
        "all output",
        "Output pane: every watcher's lines interleaved, each named (again: the selected one)",
        "combined-output",
        show=False,
    ),
    _binding(
        "v",
        "select_output",
        "select",
        "Output pane: select lines with the keys (shift extends), y or enter copies, escape leaves",
        "select-output",
        show=False,
    ),
    _binding(
        "j",
        "pretty_json",
        "json",
        "Output pane: draw each line that is a JSON object indented, over several rows",
        "pretty-json",
        show=False,
    ),
    _binding(
        "c",
        "clear_output",
        "clear",
        "Output pane: clear it for the selected watcher or process (new lines still show)",
        "clear-output",
        show=False,
    ),
]


QUIT_IDS = frozenset({"quit", "quit-ctrl-q", "quit-ctrl-c"})


def attached(binding: Binding) -> Binding:
    """In `tuiman attach` the quit keys only detach: say so in the footer and the help."""
    if binding.id in QUIT_IDS:
        return replace(binding, description="detach", tooltip=DETACH_TOOLTIP)
    return binding


def attach_bindings(bindings: BindingsMap) -> None:
    for key, found in bindings.key_to_bindings.items():
        bindings.key_to_bindings[key] = [attached(binding) for binding in found]


# Keys of the panes and dialogs, for the help screen (they act where the focus is).
HELP_EXTRAS: list[tuple[str, str]] = [
    ("h", "Hook log: only hook calls, or every event (keeps the position)"),
    ("end", "Output and hook log: follow the newest lines again"),
    ("up, down, pgup, pgdn", "Move in a table, scroll a pane (a paused pane holds still)"),
    ("left, right", "Scroll long lines sideways"),
    ("home, g / end, G", "Tables: first / last row"),
    ("enter", "On a watcher or a process: read its output"),
    ("enter, up / down", "In the search box: older / newer match; escape closes it"),
    (
        "y, enter / escape",
        "Output, selecting (v): copy the lines (OSC 52) / leave; shift+up, shift+down extend",
    ),
    (
        "mouse",
        "Click a row to select it (again: its output), click a panel to focus it, wheel "
        "to scroll (scrolling up pauses following)",
    ),
]


def watcher_action_state(
    action: str, view: WatcherView, parameters: tuple[object, ...]
) -> bool | None:
    """check_action's answer for a watcher action: True runs it, None dims it, False hides it."""
    state = view.state
    if action == "start":
        return state in (WatcherState.STOPPED, WatcherState.FAILED, WatcherState.FLAPPING)
    if action == "stop":
        if state == WatcherState.STOPPING:
            return None
        return state != WatcherState.STOPPED or bool(view.processes) or view.start_pending
    if action in ("restart", "reload"):
        return None if state == WatcherState.STOPPING else True
    if action == "signal":
        return True if view.processes else None
    if action == "extended":
        return True if view.processes else None
    if action == "scale":
        step = parameters[0] if parameters else 1
        if isinstance(step, int) and step < 0:
            return True if view.numprocesses > 0 else None
        return True
    return True
