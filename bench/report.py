"""Turns the raw results of a run into the Markdown of BENCHMARKS.md (and the console)."""

# ruff: noqa: RUF001  (the report is typeset: multiplication signs, dashes, quotes)

from __future__ import annotations

from collections.abc import Callable, Sequence
from statistics import median
from typing import Any

from managers import CIRCUS, LABELS, SUPERVISOR, TUIMAN

FLOOR, FLOOR_PIPES = "floor", "floor_pipes"
Getter = Callable[[dict[str, Any], str], float | None]


def med(values: list[float | None]) -> float | None:
    clean = [v for v in values if v is not None]
    return median(clean) if clean else None


def dig(data: Any, *keys: Any) -> Any:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


# -- per-repetition getters: (rep, who) -> value ----------------------------------------------
def spawn_s(n: int) -> Getter:
    return lambda rep, who: dig(rep, "spawn", str(n), who, "seconds")


def spawn_extra(n: int, key: str) -> Getter:
    return lambda rep, who: dig(rep, "spawn", str(n), who, key)


def session(*keys: str) -> Getter:
    return lambda rep, who: dig(rep, "session", who, *keys)


def respawn_stat(fn: Callable[[list[float]], float]) -> Getter:
    def get(rep: dict[str, Any], who: str) -> float | None:
        values = dig(rep, "session", who, "respawn")
        if not values:
            return None
        if any(v is None for v in values):
            return float("inf")
        return fn(values)

    return get


def crash(key: str) -> Getter:
    return lambda rep, who: dig(rep, "crash", who, key)


def output(key: str) -> Getter:
    return lambda rep, who: dig(rep, "throughput", who, key)


def output_faults(rep: dict[str, Any], who: str) -> float | None:
    """Lines lost, mangled or duplicated on their way to the log files (bench/throughput.py)."""
    counts = [dig(rep, "throughput", who, key) for key in ("lost", "mangled", "duplicated")]
    return None if None in counts else sum(counts)


def version(rep: dict[str, Any], who: str) -> float | None:
    return med(dig(rep, "version", who) or [])


def kib_to_mib(value: float | None) -> float | None:
    return None if value is None else value / 1024


def scaled(getter: Getter, factor: float) -> Getter:
    def get(rep: dict[str, Any], who: str) -> float | None:
        value = getter(rep, who)
        return None if value is None else value * factor

    return get


# -- aggregation ------------------------------------------------------------------------------
def values(reps: list[dict[str, Any]], getter: Getter, who: str) -> list[float | None]:
    return [getter(rep, who) for rep in reps]


def p95(values: list[float]) -> float:
    """The 95th percentile, nearest rank (as bench/ui_bench.py reports it)."""
    ordered = sorted(values)
    return ordered[min(round(0.95 * (len(ordered) - 1)), len(ordered) - 1)]


def median_of(reps: list[dict[str, Any]], getter: Getter, who: str) -> float | None:
    return med(values(reps, getter, who))


def ratio_of(
    reps: list[dict[str, Any]],
    getter: Getter,
    who: str,
    other: str,
    other_getter: Getter | None = None,
) -> float | None:
    """Ratio computed within each repetition, then the median of those ratios."""
    ratios = []
    for rep in reps:
        a, b = getter(rep, who), (other_getter or getter)(rep, other)
        if a is None or b is None or b == 0 or a == float("inf") or b == float("inf"):
            continue
        ratios.append(a / b)
    return med(ratios)


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "–"
    if value == float("inf"):
        return "timeout"
    if unit == "n":
        return f"{value:g}" if value == int(value) else f"{value:.1f}"
    if abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    elif abs(value) >= 1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3f}"
    return text


def fmt_ratio(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 0.01:
        return f"{value:.1g}×"
    return f"{value:.2f}×" if value < 10 else f"{value:.0f}×"


# -- rendering --------------------------------------------------------------------------------
Verdict = tuple[str, str, bool | None]  # target, what was measured, met (None: not measured)


def render(results: dict[str, Any], earlier: Sequence[dict[str, Any]] = ()) -> str:
    """The report of one run; with `earlier` runs, a table of every target in each run too."""
    out, verdicts, targets_end = _render(results)
    if earlier:
        per_run = [verdicts_of(run) for run in earlier] + [verdicts]
        out[targets_end:targets_end] = across_runs([*earlier, results], per_run)
    return "\n".join(out)


def verdicts_of(results: dict[str, Any]) -> list[Verdict]:
    return _render(results)[1]


def _render(results: dict[str, Any]) -> tuple[list[str], list[Verdict], int]:
    meta = results["meta"]
    cfg = results["config"]
    reps: list[dict[str, Any]] = results["reps"]
    sizes: list[int] = cfg["sizes"]
    big = max(sizes)
    n_session = cfg["session_n"]
    out: list[str] = []
    w = out.append

    w("# Benchmarks: tuiman vs Circus vs supervisord")
    w("")
    w(
        "Generated by `bench/run.py` — do not edit by hand; rerun the harness instead "
        "(see [bench/README.md](bench/README.md))."
    )
    w("")
    if cfg.get("quick"):
        w(
            "**Quick smoke run** (`--quick`): one repetition, small N, short windows — "
            "not a result to quote."
        )
        w("")
    w(f"- Command: `{meta['command']}`")
    w(
        f"- Date: {meta['date']} · duration {meta['duration_s']:.0f} s · "
        f"{len(reps)} repetition(s), managers interleaved (order rotated per repetition); "
        "values are medians over repetitions, ratios are computed within each repetition and "
        "then medianed"
    )
    cols = [TUIMAN, CIRCUS, SUPERVISOR]
    background = med([dig(r, "session", m, "background_pct") for r in reps for m in cols])
    w(
        f"- Machine: {meta['nproc']} CPUs ({meta['cpu_model']}), Linux {meta['kernel']}, "
        f"{meta['mem_gib']:.0f} GiB RAM; load average {meta['loadavg']} at start, "
        f"{meta.get('loadavg_end', '?')} at the end; CPU used by other work on the machine during "
        f"the idle windows: median {fmt(background)} % of one core "
        f"(of {meta['nproc'] * 100})"
    )
    gate = meta.get("gate") or {}
    if gate.get("samples"):
        w(
            f"- Other work on the machine when each measurement started: median "
            f"{fmt(med(gate['samples']))} %, max {fmt(max(gate['samples']))} % of one core "
            f"(the harness waits up to 5 s (90 s per run) for less than 50 %; it waited "
            f"{fmt(gate.get('waited_s'))} s in all)"
        )
    if "left_behind" in meta:
        w(
            f"- Processes of this run still alive after its clean-up (full `/proc` scan): "
            f"{meta['left_behind']}"
        )
    w(f"- Python {meta['python']} (one interpreter for all three managers)")
    w(
        f"- {meta['versions'][TUIMAN]} (checkout {meta['git']}) · "
        f"Circus {meta['versions'][CIRCUS]} (pyzmq {meta['libs'].get('pyzmq', '?')}, "
        f"tornado {meta['libs'].get('tornado', '?')}) · supervisord {meta['versions'][SUPERVISOR]}"
    )
    w("")

    # ---------------------------------------------------------------- the main table
    w("## Results")
    w("")
    w(
        "| Measurement | tuiman | Circus | supervisord | Popen floor | tuiman ÷ Circus | "
        "tuiman ÷ supervisord | tuiman ÷ floor |"
    )
    w("|---|--:|--:|--:|--:|--:|--:|--:|")

    def row(
        label: str,
        getter: Getter,
        unit: str = "",
        floor: str | None = None,
        ratios: bool = True,
        who: list[str] = cols,
    ) -> None:
        cells = [label]
        for m in cols:
            cells.append(fmt(median_of(reps, getter, m), unit) if m in who else "")
        cells.append(fmt(median_of(reps, getter, floor), unit) if floor else "")
        if ratios:
            for other in (CIRCUS, SUPERVISOR):
                cells.append(
                    fmt_ratio(ratio_of(reps, getter, TUIMAN, other)) if other in who else ""
                )
            cells.append(fmt_ratio(ratio_of(reps, getter, TUIMAN, floor)) if floor else "")
        else:
            cells += ["", "", ""]
        w("| " + " | ".join(cells) + " |")

    for n in sizes:
        label = (
            f"spawn {n} `sleep 3600`: launch → all alive (ms)"
            if n > 1
            else "start-up: launch → 1 process alive (ms)"
        )
        row(label, scaled(spawn_s(n), 1000), floor=FLOOR)
    row(
        f"spawn {big}, floor with tuiman's spawn flags (pipes, new session) (ms)",
        scaled(spawn_s(big), 1000),
        floor=FLOOR_PIPES,
        who=[],
    )
    if big != n_session:
        row(f"threads of the manager with {big} processes", spawn_extra(big, "threads"), "n")
        row(
            f"RSS of the manager with {big} processes (MiB)",
            lambda r, m: kib_to_mib(spawn_extra(big, "rss_kib")(r, m)),
        )
    row(
        f"idle CPU over {cfg['idle_window']:g} s with {n_session} processes (% of one core)",
        session("idle_cpu_pct"),
    )
    row("idle CPU of helper processes (% of one core)", session("helper_cpu_pct"), ratios=False)
    row(
        f"RSS of the manager with {n_session} processes (MiB)",
        lambda r, m: kib_to_mib(session("rss_kib")(r, m)),
    )
    row(
        f"PSS of manager + helper processes with {n_session} processes (MiB)",
        lambda r, m: kib_to_mib(session("pss_tree_kib")(r, m)),
    )
    row(f"threads of the manager with {n_session} processes", session("threads"), "n")
    row(f"respawn after SIGKILL, median of {cfg['kills']} (ms)", scaled(respawn_stat(median), 1000))
    row(f"respawn after SIGKILL, max of {cfg['kills']} (ms)", scaled(respawn_stat(max), 1000))
    row(f"stop {n_session} (SIGTERM) → all gone (ms)", scaled(session("stop", "all_gone"), 1000))
    row(f"stop {n_session} → manager exited (ms)", scaled(session("stop", "manager_exit"), 1000))
    row("orphans left after stop", session("stop", "orphans"), "n", ratios=False)
    row(f"crash loop `false` {cfg['crash_window']:g} s: spawns", crash("spawns"), "n", ratios=False)
    row("crash loop: CPU of the manager (% of one core)", crash("cpu_pct"), ratios=False)
    states = {m: "; ".join(sorted({str(dig(r, "crash", m, "state")) for r in reps})) for m in cols}
    w(
        "| crash loop: state at the end of the window | "
        + " | ".join(states[m].replace("|", "/") for m in cols)
        + " | | | | |"
    )
    row(f"`--version`, median of {cfg['version_runs']} runs (ms)", scaled(version, 1000))
    if any("throughput" in r for r in reps):
        each = f"{cfg['throughput_n']} children, {cfg['throughput_window']:g} s"
        row(f"output ({each}): lines/s into the log files", output("lines_per_s"))
        row("output: CPU of the manager (+ helpers) per 100 000 lines (s)", output("cpu_per_100k"))
        row("output: a child's longest blocked write (ms)", output("longest_write_ms"))
        row(
            "output: … of which asleep on a full pipe, the manager not reading (ms)",
            output("longest_asleep_ms"),
        )
        row("output: lines lost, mangled or duplicated", output_faults, "n", ratios=False)
    tui = results.get("tui", {})
    if tui.get("available"):
        row(
            f"TUI: idle CPU with {n_session} processes (% of one core)",
            lambda r, m: dig(r, "tui_session", "idle_cpu_pct") if m == TUIMAN else None,
            ratios=False,
        )
        row(
            f"TUI: RSS with {n_session} processes (MiB)",
            lambda r, m: kib_to_mib(dig(r, "tui_session", "rss_kib")) if m == TUIMAN else None,
            ratios=False,
        )
    else:
        w(
            f"| TUI (`tuiman` on a terminal): idle CPU, RSS with {n_session} processes | n/a | | | "
            "| | | |"
        )
    w("")
    if not tui.get("available"):
        said = " / ".join(tui.get("said") or []) or "no full-screen output"
        w(
            "TUI figures are n/a: `tuiman` without `--headless`, run on a 200×60 pty, did not "
            f"open a full-screen UI (it said: “{said}”). The UI-under-load figures (p95 "
            "key-to-render latency and CPU) belong to the TUI benchmark."
        )
        w("")

    # ---------------------------------------------------------------- targets
    w("## Targets")
    w("")
    w("| Target ([bench/README.md](bench/README.md#targets)) | Measured | Result |")
    w("|---|---|---|")

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("**pass**" if ok else "**FAIL**")

    verdicts: list[Verdict] = []

    def target(label: str, measured: str, ok: bool | None) -> None:
        w(f"| {label} | {measured} | {verdict(ok)} |")
        verdicts.append((label, measured, ok))

    s_big = scaled(spawn_s(big), 1000)
    r_c = ratio_of(reps, s_big, TUIMAN, CIRCUS)
    r_f = ratio_of(reps, s_big, TUIMAN, FLOOR)
    target(
        f"spawn {big}: ≤ 0.35 × Circus",
        f"{fmt_ratio(r_c)} ({fmt(median_of(reps, s_big, TUIMAN))} "
        f"vs {fmt(median_of(reps, s_big, CIRCUS))} ms)",
        None if r_c is None else r_c <= 0.35,
    )
    target(
        f"spawn {big}: ≤ 2.5 × raw Popen floor",
        f"{fmt_ratio(r_f)} (floor {fmt(median_of(reps, s_big, FLOOR))} ms)",
        None if r_f is None else r_f <= 2.5,
    )
    if 10 in sizes:  # start-up dominates small stacks (bench/startup.py has the breakdown)
        s10 = scaled(spawn_s(10), 1000)
        r10, t10 = ratio_of(reps, s10, TUIMAN, CIRCUS), median_of(reps, s10, TUIMAN)
        target(
            "spawn 10 (launch → 10 alive): ≤ 0.6 × Circus and ≤ 150 ms",
            f"{fmt_ratio(r10)} ({fmt(t10)} vs {fmt(median_of(reps, s10, CIRCUS))} ms)",
            None if r10 is None or t10 is None else r10 <= 0.6 and t10 <= 150,
        )
    rs = median_of(reps, scaled(respawn_stat(median), 1000), TUIMAN)
    target(
        "respawn after SIGKILL: median ≤ 20 ms",
        f"{fmt(rs)} ms (Circus "
        f"{fmt(median_of(reps, scaled(respawn_stat(median), 1000), CIRCUS))}, supervisord "
        f"{fmt(median_of(reps, scaled(respawn_stat(median), 1000), SUPERVISOR))} ms)",
        None if rs is None else rs <= 20,
    )
    ic_t = median_of(reps, session("idle_cpu_pct"), TUIMAN)
    ic_c = median_of(reps, session("idle_cpu_pct"), CIRCUS)
    target(
        f"headless idle CPU with {n_session} processes ≤ Circus",
        f"{fmt(ic_t)} % vs {fmt(ic_c)} %",
        None if ic_t is None or ic_c is None else ic_t <= ic_c,
    )
    tui_cpu = med([dig(r, "tui_session", "idle_cpu_pct") for r in reps])
    target(
        "TUI open and idle: ≤ 3 % of a core",
        "n/a (no UI)" if tui_cpu is None else f"{fmt(tui_cpu)} %",
        None if tui_cpu is None else tui_cpu <= 3,
    )

    def at_most(label: str, getter: Getter, other: str, unit: str, shown: Getter) -> None:
        """tuiman ≤ `other`, judged on the median of the ratios within each repetition."""
        ratio = ratio_of(reps, getter, TUIMAN, other)
        target(
            label,
            f"{fmt_ratio(ratio)} ({fmt(median_of(reps, shown, TUIMAN))} vs "
            f"{fmt(median_of(reps, shown, other))} {unit})",
            None if ratio is None else ratio <= 1,
        )

    rss = session("rss_kib")
    rss_mib = lambda r, m: kib_to_mib(rss(r, m))  # noqa: E731
    at_most(f"RSS headless with {n_session} processes ≤ Circus", rss, CIRCUS, "MiB", rss_mib)
    tui_rss = med([dig(r, "tui_session", "rss_kib") for r in reps])
    head_rss = median_of(reps, rss, TUIMAN)
    target(
        "RSS with the TUI ≤ 2.5 × headless",
        "n/a (no UI)" if tui_rss is None or not head_rss else fmt_ratio(tui_rss / head_rss),
        None if tui_rss is None or not head_rss else tui_rss / head_rss <= 2.5,
    )
    stop_g = scaled(session("stop", "all_gone"), 1000)
    at_most(f"stop {n_session} → all gone ≤ Circus", stop_g, CIRCUS, "ms", stop_g)
    # supervisord notices a stop on its 1 s tick in some runs: its fastest repetition is the bar
    stop_t = median_of(reps, stop_g, TUIMAN)
    stop_s = [v for v in values(reps, stop_g, SUPERVISOR) if v is not None]
    target(
        f"stop {n_session} → all gone ≤ supervisord's fastest repetition",
        f"{fmt(stop_t)} vs {fmt(min(stop_s, default=None))} ms",
        None if stop_t is None or not stop_s else stop_t <= min(stop_s),
    )
    pss = session("pss_tree_kib")
    at_most(
        f"PSS of manager + helpers with {n_session} processes ≤ supervisord's",
        pss,
        SUPERVISOR,
        "MiB",
        lambda r, m: kib_to_mib(pss(r, m)),
    )
    spawns = median_of(reps, crash("spawns"), TUIMAN)
    target(
        f"crash loop ({cfg['crash_window']:g} s): ≤ 8 spawns",
        fmt(spawns, "n"),
        None if spawns is None else spawns <= 8,
    )
    ccpu = median_of(reps, crash("cpu_pct"), TUIMAN)
    target("crash loop: CPU ≤ 1 %", f"{fmt(ccpu)} %", None if ccpu is None else ccpu <= 1)
    seen = states[TUIMAN]
    target(
        "crash loop: visibly `flapping` (then `failed`)",
        seen,
        ("flapping" in seen or "failed" in seen) if seen and seen != "None" else None,
    )
    r_v = ratio_of(reps, version, TUIMAN, CIRCUS)
    target(
        "`tuiman --version` ≤ `circusd --version`",
        f"{fmt_ratio(r_v)} "
        f"({fmt(median_of(reps, scaled(version, 1000), TUIMAN))} vs "
        f"{fmt(median_of(reps, scaled(version, 1000), CIRCUS))} ms)",
        None if r_v is None else r_v <= 1,
    )
    if 1 in sizes:
        r_h = ratio_of(reps, spawn_s(1), TUIMAN, CIRCUS, other_getter=version)
        target(
            "`tuiman --headless` start-up (launch → 1 process alive) ≤ `circusd --version`",
            f"{fmt_ratio(r_h)} ({fmt(median_of(reps, scaled(spawn_s(1), 1000), TUIMAN))} vs "
            f"{fmt(median_of(reps, scaled(version, 1000), CIRCUS))} ms)",
            None if r_h is None else r_h <= 1,
        )
    load = results.get("ui_load")
    if load and load.get("help_ms") and load.get("move_ms"):
        help_p95, move_p95 = p95(load["help_ms"]), p95(load["move_ms"])
        signal_ms = load.get("signal_ms") or []
        signal_p95 = p95(signal_ms) if signal_ms else 0.0
        signal_text = (
            f"`k` → signal picker {median(signal_ms):.0f}/{signal_p95:.0f} ms, "
            if signal_ms
            else ""
        )
        target(
            "UI under load: p95 key-to-render latency and CPU, reported",
            f"`?` → help drawn p50/p95 {median(load['help_ms']):.0f}/{help_p95:.0f} ms, "
            + signal_text
            + f"↓/↑ → panel redrawn {median(load['move_ms']):.0f}/{move_p95:.0f} ms; "
            f"CPU {load['cpu_pct']:.1f} % of a core ({load['processes']} processes, "
            f"{load['lines_per_s']:,.0f} lines/s, {load['hooks_per_s']:.0f} hook calls/s)",
            True,  # reporting is the target; the latency goal is judged on the next two rows
        )
        keys = {"?": load["help_ms"], "↓/↑": load["move_ms"], "k": signal_ms}
        keys["w"] = load.get("wrap_ms") or []
        keys |= {name.split()[0]: ms for name, ms in (load.get("dialog_ms") or {}).items()}
        measured = {name: ms for name, ms in keys.items() if ms}
        target(
            "UI under load: `w` (wrap) and the dialogs `i`, `n`: p50/p95 reported",
            ", ".join(
                f"`{name}` {median(ms):.0f}/{p95(ms):.0f} ms"
                for name, ms in measured.items()
                if name not in ("?", "↓/↑", "k")
            )
            or "not measured",
            True,
        )
        slow50 = max((median(ms), name) for name, ms in measured.items())
        slow95 = max((p95(ms), name) for name, ms in measured.items())
        target(
            "UI: key press to updated screen well under 100 ms: every key's p50 < 100 ms",
            f"slowest p50 {slow50[0]:.0f} ms (`{slow50[1]}`)",
            slow50[0] < 100,
        )
        target(
            "UI: … and every key's p95 < 100 ms",
            f"slowest p95 {slow95[0]:.0f} ms (`{slow95[1]}`)",
            slow95[0] < 100,
        )
    else:
        target(
            "UI under load: p95 key-to-render latency and CPU, reported",
            "not measured (no full-screen UI on the pty)",
            None,
        )
    if any("throughput" in r for r in reps):
        output_targets(reps, target)
    scale = results.get("ui_scale")
    if scale and scale.get("move_ms"):
        keys = {
            "↓/↑": scale["move_ms"],
            "?": scale.get("help_ms") or [],
            "k": scale.get("signal_ms") or [],
        }
        keys |= {name.split()[0]: ms for name, ms in (scale.get("dialog_ms") or {}).items()}
        worst = max((p95(ms), name) for name, ms in keys.items() if ms)
        target(
            "UI with 5 000 processes: every key's p95 < 100 ms, idle CPU reported",
            f"↓/↑ p50/p95 {median(scale['move_ms']):.0f}/{p95(scale['move_ms']):.0f} ms, "
            f"slowest p95 {worst[0]:.0f} ms (`{worst[1]}`); CPU {scale['cpu_pct']:.1f} % of a "
            f"core, {scale['rss_mib']:.0f} MiB ({scale['processes']} processes)",
            worst[0] < 100,
        )
    th = max(
        [v for v in values(reps, spawn_extra(big, "threads"), TUIMAN) if v is not None],
        default=None,
    )
    target(
        f"tuiman threads with {big} processes and no hook running: < 20",
        fmt(th, "n"),
        None if th is None else th < 20,
    )
    orph = max(
        [v for v in values(reps, session("stop", "orphans"), TUIMAN) if v is not None], default=None
    )
    target("no orphans after quit", fmt(orph, "n"), None if orph is None else orph == 0)
    w("")

    if results.get("scale"):
        out.extend(scale_section(results["scale"], verdicts))
    targets_end = len(out)

    # ---------------------------------------------------------------- per repetition
    w("## Per repetition")
    w("")
    w(
        "| Rep | order | "
        + " | ".join(
            [
                f"spawn {big} t/C/s/floor (ms)",
                "idle CPU t/C/s (%)",
                "respawn med t/C/s (ms)",
                "stop t/C/s (ms)",
                "crash spawns t/C/s",
                "--version t/C/s (ms)",
            ]
        )
        + " |"
    )
    w("|---|---|---|---|---|---|---|---|")
    for i, rep in enumerate(reps, 1):

        def trio(
            getter: Getter, unit: str = "", extra: str | None = None, rep: dict[str, Any] = rep
        ) -> str:
            parts = [fmt(getter(rep, m), unit) for m in cols]
            if extra:
                parts.append(fmt(getter(rep, extra), unit))
            return " / ".join(parts)

        w(
            f"| {i} | {', '.join(rep['order'])} | {trio(s_big, extra=FLOOR)} | "
            f"{trio(session('idle_cpu_pct'))} | {trio(scaled(respawn_stat(median), 1000))} | "
            f"{trio(stop_g)} | {trio(crash('spawns'), 'n')} | {trio(scaled(version, 1000))} |"
        )
    w("")

    if results.get("startup"):
        out.extend(render_startup(results["startup"]))
        w("")

    # ---------------------------------------------------------------- method
    w("## How each figure is taken")
    w("")
    for line in METHOD:
        w(f"- {line}")
    w("")
    return out, verdicts, targets_end


def across_runs(runs: Sequence[dict[str, Any]], per_run: Sequence[list[Verdict]]) -> list[str]:
    """Every target in each of several full runs: a target is met when it is met in all."""
    out = [
        f"## Targets across {len(runs)} full runs",
        "",
        "The tables above are the last run's; here each target as measured in every run.",
        "",
    ]
    for i, run in enumerate(runs, 1):
        meta = run["meta"]
        out.append(
            f"- Run {i}: {meta['date']}, checkout {meta['git']}, {meta['duration_s']:.0f} s, "
            f"load average {meta['loadavg']} at start, {meta.get('loadavg_end', '?')} at the end"
        )
    out += [
        "",
        "| Target | "
        + " | ".join(f"run {i}" for i in range(1, len(runs) + 1))
        + " | in every run |",
        "|---|" + "---|" * len(runs) + "---|",
    ]
    labels = list(dict.fromkeys(label for verdicts in per_run for label, _, _ in verdicts))
    for label in labels:
        cells, oks = [], []
        for verdicts in per_run:
            found = [(measured, ok) for name, measured, ok in verdicts if name == label]
            if not found:
                cells.append("–")
                oks.append(None)
                continue
            measured, ok = found[0]
            oks.append(ok)
            mark = "n/a" if ok is None else ("pass" if ok else "**FAIL**")
            cells.append(f"{mark}: {measured}")
        measured_oks = [ok for ok in oks if ok is not None]
        overall = (
            "n/a"
            if not measured_oks
            else (
                "**pass**" if all(measured_oks) and len(measured_oks) == len(runs) else "**FAIL**"
            )
        )
        if measured_oks and all(measured_oks) and len(measured_oks) < len(runs):
            overall = "not measured in every run"
        out.append(f"| {label} | " + " | ".join(cells) + f" | {overall} |")
    out.append("")
    return out


def output_targets(
    reps: list[dict[str, Any]], target: Callable[[str, str, bool | None], None]
) -> None:
    rate, cpu, blocked = output("lines_per_s"), output("cpu_per_100k"), output("longest_write_ms")
    r_rate = ratio_of(reps, rate, TUIMAN, CIRCUS)
    target(
        "output: lines/s into the log files ≥ Circus (goal: supervisord)",
        f"{fmt_ratio(r_rate)} Circus, {fmt_ratio(ratio_of(reps, rate, TUIMAN, SUPERVISOR))} "
        f"supervisord ({fmt(median_of(reps, rate, TUIMAN))} vs {fmt(median_of(reps, rate, CIRCUS))}"
        f" vs {fmt(median_of(reps, rate, SUPERVISOR))})",
        None if r_rate is None else r_rate >= 1,
    )
    r_cpu = ratio_of(reps, cpu, TUIMAN, CIRCUS)
    target(
        "output: manager CPU per line ≤ Circus",
        f"{fmt_ratio(r_cpu)} ({fmt(median_of(reps, cpu, TUIMAN))} vs "
        f"{fmt(median_of(reps, cpu, CIRCUS))} s per 100 000 lines)",
        None if r_cpu is None else r_cpu <= 1,
    )
    faults = [v for v in values(reps, output_faults, TUIMAN) if v is not None]
    target(
        "output: no line lost, mangled or duplicated",
        fmt(max(faults), "n") if faults else "–",
        max(faults) == 0 if faults else None,
    )
    # Blocked by the manager: asleep in write(2) on a full pipe. The rest of a long write is
    # the child waiting for a CPU, which 20 busy writers on 2 cores do with any manager.
    asleep = output("longest_asleep_ms")
    worst = [v for v in values(reps, asleep, TUIMAN) if v is not None]
    writes = [v for v in values(reps, blocked, TUIMAN) if v is not None]
    target(
        "output: no child blocked more than 100 ms by the manager (asleep on a full pipe)",
        f"worst repetition {fmt(max(worst))} ms (Circus {fmt(median_of(reps, asleep, CIRCUS))}, "
        f"supervisord {fmt(median_of(reps, asleep, SUPERVISOR))} ms); the longest write with "
        f"its wait for a CPU {fmt(max(writes))} ms"
        if worst and writes
        else "not measured (a run before the pipe/CPU split)",
        max(worst) <= 100 if worst else None,
    )


METHOD = [
    "Each manager runs with its defaults (tuiman `--headless --json`, `circusd FILE.ini`, "
    "`supervisord -n -c FILE.conf`), one watcher/program of N copies, from the same virtualenv "
    "and interpreter. Circus: ipc endpoints, no multicast socket, check_delay 5 (its default). "
    "supervisord: minfds 4096, per-process log files in the run directory (its default AUTO).",
    "Alive: the harness polls `/proc/<manager>/task/*/children` every 5 ms (2 ms for respawn) "
    "and counts children whose `/proc/<pid>/environ` carries this run's `TUIMAN_BENCH_TAG` — "
    "which is only true after exec. Launch is the moment before the manager's `Popen`.",
    "Popen floor: a bare `subprocess.Popen([sleep, '3600'], env=...)` loop in the harness itself, "
    "measured the same way; the second floor adds tuiman's spawn flags (stdin /dev/null, stdout "
    "and stderr pipes, new session).",
    "CPU: utime + stime of the manager process (all threads) from `/proc/<pid>/stat`, as a "
    "percentage of one core over the window. Helper processes (tuiman's watchdog, Circus' "
    "flapping plugin) are shown separately. Memory: VmRSS of the manager; PSS adds its helpers "
    "without double-counting shared pages.",
    "Respawn: SIGKILL one random process, then time until a new tagged child appears; before "
    "each kill the harness waits a random time within the manager's reaping period (Circus 5 s, "
    "others 1 s), so kills do not line up with a periodic loop.",
    "Stop: SIGTERM to the manager (the quit signal of all three), then time until none of its "
    "processes is alive (zombies count as dead). Orphans: tagged processes still alive 1 s after "
    "the manager exited (a full `/proc` scan).",
    "Crash loop: `cmd = sh -c 'echo x >> FILE; exec false'`, spawns counted by lines; the window "
    "starts at the first spawn so the manager's own start-up CPU is not counted. Circus runs with "
    "`[plugin:flapping]` (its only way to give up); state as reported by tuiman's event stream, "
    "`circusctl status`, `supervisorctl status`.",
    "Output: N children (`bench/throughput.py --child`) wait for a start file, then write "
    "numbered 100-byte lines in 8 KiB blocks for the window, timing each write(2); lines/s is "
    "the lines found intact in the log files over the time from the first child's start until "
    "the files held every byte sent; CPU is the manager's (all threads, + helpers) over the "
    'same span. tuiman: `output.file`, `line_format = "raw"`, `--no-output`; Circus: one '
    "watcher per child, each with a `FileStream`; supervisord: a `stdout_logfile` per process. "
    "Nothing rotates. Every line is checked against what its child wrote.",
    "UI under load (once per run, after the repetitions; tuiman only): `bench/ui_bench.py`'s "
    "load scenario — 485 `sleep`s, 10 printers of 1 000 lines/s, 5 processes exiting every 0.2 s "
    "through four hooks — with `tuiman -c CONFIG` on a 120×40 pty. CPU over 10 s with nobody "
    "typing; latency from writing a key to the pty until the bytes showing its effect are read "
    "back (`?` until the help title, ↓/↑ until the processes panel's new title), 30 rounds.",
    "Clean-up: every manager starts in its own session; after each measurement its group is "
    "SIGKILLed and every process whose environment carries this run's `TUIMAN_BENCH_RUN` is "
    "SIGKILLed (the harness is a child subreaper and reaps what it adopts). Never by name.",
]


# -- thousands of processes (bench/scale.py) ----------------------------------------------------
SCALE_WHO = ("floor", "floor_pipes", TUIMAN, "tuiman-base", CIRCUS, SUPERVISOR)
SCALE_LABEL = {
    "floor": "bare Popen",
    "floor_pipes": "Popen + pipes",
    "tuiman-base": "tuiman (baseline checkout)",
    **LABELS,
}


def scale_section(scale: dict[str, Any], verdicts: list[Verdict]) -> list[str]:
    """The scale table and its targets (one run, no repetitions: bench/README.md#scale)."""
    sizes = scale["sizes"]
    who = [m for m in SCALE_WHO if any(m in scale.get(str(n), {}) for n in sizes)]
    out = [
        "## Thousands of processes",
        "",
        f"One run per figure (RLIMIT_NOFILE {scale.get('nofile')}); "
        f"{scale.get('duration_s', 0):.0f} s in all. PSS per child = (PSS of manager + helpers "
        "with N − with 1) / (N − 1).",
        "",
        "| N | manager | launch → all alive (s) | ms per spawn, 500 → N | PSS tree (MiB) "
        "| PSS per child (KiB) | idle CPU (%) | stop → all gone (ms) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n in sizes:
        row = scale.get(str(n), {})
        for m in who:
            e = row.get(m)
            if e is None:
                continue
            stop = dig(e, "stop", "all_gone")
            out.append(
                f"| {n} | {SCALE_LABEL.get(m, m)} | {fmt(e.get('seconds'))} "
                f"| {fmt(e.get('per_spawn_ms'))} | {fmt(kib_to_mib(e.get('pss_tree_kib')))} "
                f"| {fmt(e.get('pss_per_child_kib'))} | {fmt(e.get('idle_cpu_pct'))} "
                f"| {fmt(None if stop is None else stop * 1000)} |"
            )
    tui = scale.get("tui")
    if tui:
        moves = tui.get("move_ms") or []
        out += [
            "",
            f"The UI with {tui.get('processes')} processes: idle CPU "
            f"{fmt(tui.get('idle_cpu_pct'))} % of a core, RSS {fmt(kib_to_mib(tui.get('rss_kib')))}"
            f" MiB, ↓/↑ between two watchers p50/p95 "
            + (f"{median(moves):.0f}/{p95(moves):.0f} ms" if moves else "–")
            + (f" ({tui['error']})" if tui.get("error") else ""),
        ]
    big = scale.get(str(sizes[-1]), {})
    t, c, f = (dig(big, m, "seconds") for m in (TUIMAN, CIRCUS, "floor"))
    per_500 = dig(big, TUIMAN, "per_spawn_first_ms")
    per_n = dig(big, TUIMAN, "per_spawn_ms")
    pss_t, pss_s = (dig(big, m, "pss_per_child_kib") for m in (TUIMAN, SUPERVISOR))
    idle_t = dig(big, TUIMAN, "idle_cpu_pct")

    def verdict(ok: bool | None) -> str:
        return "–" if ok is None else ("pass" if ok else "**fail**")

    def ratio(a: float | None, b: float | None) -> float | None:
        return None if a is None or not b else a / b

    checks = [
        (f"{sizes[-1]}: launch → all alive ≤ 0.2 × Circus", ratio(t, c), 0.2),
        (f"{sizes[-1]}: launch → all alive ≤ 2 × bare Popen", ratio(t, f), 2.0),
        (f"{sizes[-1]}: ms per spawn 500 → N ≤ 1.5 × first 500's", ratio(per_n, per_500), 1.5),
        (f"{sizes[-1]}: PSS per child ≤ supervisord's", ratio(pss_t, pss_s), 1.0),
    ]
    out += ["", "| target | tuiman | verdict |", "|---|---|---|"]
    for text, value, limit in checks:
        ok = None if value is None else value <= limit
        out.append(f"| {text} | {fmt_ratio(value)} | {verdict(ok)} |")
        verdicts.append((text, fmt_ratio(value), ok))
    idle_ok = None if idle_t is None else idle_t < 0.5
    out.append(f"| {sizes[-1]}: idle CPU 0 | {fmt(idle_t)} % | {verdict(idle_ok)} |")
    verdicts.append((f"{sizes[-1]}: idle CPU 0", f"{fmt(idle_t)} %", idle_ok))
    out.append("")
    return out


def render_startup(data: dict[str, Any]) -> list[str]:
    """The start-up section (bench/startup.py's dict): launch -> alive against Circus, and
    where tuiman's start-up goes, phase by phase."""

    def ms(entry: dict[str, Any] | None, factor: float = 1000) -> str:
        value = None if not entry or entry.get("median") is None else entry["median"] * factor
        return fmt(value)

    alive, version_ = data.get("alive", {}), data.get("version", {})
    out = ["## Start-up (`bench/startup.py`)", ""]
    out.append(
        f"{data.get('rounds', '?')} interleaved rounds, load average "
        f"{' '.join(data.get('loadavg', []))} at start; medians."
    )
    out += ["", "| launch → | tuiman | Circus | tuiman ÷ Circus |", "|---|---|---|---|"]
    for n in (1, 10):
        t, c = dig(alive, f"tuiman {n}", "median"), dig(alive, f"circus {n}", "median")
        ratio = None if t is None or not c else t / c
        out.append(
            f"| {n} alive | {ms(alive.get(f'tuiman {n}'))} ms | {ms(alive.get(f'circus {n}'))} ms"
            f" | {fmt_ratio(ratio)} |"
        )
    out.append(
        f"| `--version` | {ms(version_.get('tuiman'))} ms | {ms(version_.get('circus'))} ms | |"
    )
    out += ["", "| phase of a start with 10 processes | ms |", "|---|---|"]
    for phase, entry in data.get("phases", {}).items():
        value = None if entry.get("median") is None else f"{entry['median']:.1f}"
        out.append(f"| {phase} | {value or '–'} |")
    imports = data.get("imports") or {}
    if imports:
        top = ", ".join(f"`{name}` {value:.0f}" for name, value in imports["top_cumulative"][:6])
        out += [
            "",
            f"`-X importtime`: {imports['modules']:.0f} modules ({imports['tuiman_modules']} of "
            f"tuiman's), {imports['total_ms']:.0f} ms in all (importtime's own overhead "
            f"included); biggest, cumulative ms: {top}.",
        ]
    counts = {k: v for k, v in (data.get("instructions") or {}).items() if v is not None}
    if counts:
        out += ["", "| instructions (valgrind, noise-free) | millions |", "|---|---|"]
        out += [f"| {key} | {value:.0f} |" for key, value in counts.items()]
    return out
