"""The plugins a config runs in the core (docs/circus.md#plugins): Circus' statsd emitters and
its UDP watchdog, with Circus' option names and defaults."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StatsdPluginConfig:
    """`use = "statsd"` (circus.plugins.statsd.StatsdEmitter): one counter per watcher event;
    `use = "full_stats"` (circus.plugins.statsd.FullStats): CPU and memory gauges every
    `loop_rate` seconds instead."""

    name: str
    use: str  # "statsd" or "full_stats"
    host: str = "localhost"
    port: int = 8125
    application_name: str = "app"
    sample_rate: float = 1.0
    loop_rate: float = 60.0  # full_stats only


@dataclass(frozen=True)
class WatchdogPluginConfig:
    """`use = "watchdog"` (circus.plugins.watchdog.WatchDog): processes send UDP heartbeats;
    one silent for `loop_rate * max_count` seconds is killed (and respawned)."""

    name: str
    use: str = "watchdog"
    loop_rate: float = 60.0
    max_count: int = 3
    ip: str = "127.0.0.1"
    port: int = 1664
    watchers_regex: str = ".*"
    msg_regex: str = "^(?P<pid>.*);(?P<timestamp>.*)$"
    watchers_stop_signal: int | None = None
    watchers_graceful_timeout: float | None = None


PluginConfig = StatsdPluginConfig | WatchdogPluginConfig
