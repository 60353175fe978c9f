"""Plugin configs (docs/circus.md#plugins): Circus `[plugin:…]` sections and `[plugins.NAME]`
tables load to the same plugins, `tuiman convert` writes them, and every mistake is one line."""

from __future__ import annotations

import signal
import textwrap
from pathlib import Path

import pytest

from tuiman.core.circus.loader import convert_circus_config, load_circus_config
from tuiman.core.config.loader import ConfigError, load_config_text
from tuiman.core.config.plugin_model import StatsdPluginConfig, WatchdogPluginConfig

INI = """\
[watcher:test1]
cmd = sleep 120

[plugin:counters]
use = circus.plugins.statsd.StatsdEmitter
host = 127.0.0.1
port = 8126
application_name = shop
sample_rate = 0.5
priority = 2
hots = typo

[plugin:gauges]
use = circus.plugins.statsd.FullStats
loop_rate = 10

[plugin:mywatchdog]
use = circus.plugins.watchdog.WatchDog
loop_rate = 4
max_count = 5
watchers_regex = "^test.*$"
watchers_stop_signal = INT
watchers_graceful_timeout = 2.5
"""

EXPECTED = (
    StatsdPluginConfig(
        "counters", "statsd", host="127.0.0.1", port=8126, application_name="shop", sample_rate=0.5
    ),
    StatsdPluginConfig("gauges", "full_stats", loop_rate=10.0),
    WatchdogPluginConfig(
        "mywatchdog",
        loop_rate=4.0,
        max_count=5,
        watchers_regex='"^test.*$"',
        watchers_stop_signal=signal.SIGINT,
        watchers_graceful_timeout=2.5,
    ),
)


def test_circus_plugin_sections_load_and_convert_to_the_same_plugins(tmp_path: Path) -> None:
    (tmp_path / "circus.ini").write_text(INI)
    config = load_circus_config(tmp_path / "circus.ini", display_name="circus.ini", cwd=tmp_path)
    assert config.plugins == EXPECTED
    assert [w for w in config.warnings if "plugin:" in w] == [
        "circus.ini: [plugin:counters] priority: tuiman ignores priority: it concerns the "
        "process Circus runs the plugin in; tuiman runs it in itself",
        "circus.ini: [plugin:counters] hots: tuiman ignores hots: the statsd plugin does not "
        "read it (did you mean host?)",
        "circus.ini: [plugin:mywatchdog] watchers_regex: the quotes are part of the regular "
        "expression (in Circus too): it only matches text that starts with a quote; remove them",
    ]
    conversion = convert_circus_config(
        tmp_path / "circus.ini", display_name="circus.ini", cwd=tmp_path
    )
    assert '[plugins.mywatchdog]\nuse = "watchdog"' in conversion.toml_text
    toml_path = tmp_path / "converted.toml"
    toml_path.write_text(conversion.toml_text)
    converted = load_config_text(toml_path.read_text(), toml_path, cwd=tmp_path)
    assert converted.plugins == EXPECTED


@pytest.mark.parametrize(
    ("table", "error"),
    [
        ('use = "statsd2"', 'plugins.p.use: "statsd2" (did you mean statsd?): tuiman runs these '
         "plugins: statsd, full_stats, watchdog"),
        ("port = 1", "plugins.p.use: missing: tuiman runs these plugins: statsd, full_stats, "
         "watchdog"),
        ('use = "statsd"\nport = 70000', "plugins.p.port: must be <= 65535, got 70000"),
        ('use = "statsd"\nloop_rate = 5', "plugins.p.loop_rate: not a key of a statsd plugin "
         "(only of full_stats and watchdog)"),
        ('use = "watchdog"\nhots = "x"', "plugins.p.hots: unknown key (did you mean host?)"),
        ('use = "watchdog"\nmsg_regex = "^(.*);"', "plugins.p.msg_regex: has no (?P<pid>…) group: "
         "the heartbeat's pid is read from it"),
        ('use = "watchdog"\nwatchers_regex = "(["', "plugins.p.watchers_regex: not a regular "
         "expression: unterminated character set at position 1"),
        ('use = "watchdog"\nmax_count = 0', "plugins.p.max_count: must be >= 1, got 0"),
        ('use = "watchdog"\nwatchers_stop_signal = "NOPE"', 'plugins.p.watchers_stop_signal: '
         'unknown signal "NOPE"'),
    ],
)  # fmt: skip
def test_plugin_mistakes_are_one_line_each(tmp_path: Path, table: str, error: str) -> None:
    text = f"[plugins.p]\n{table}\n"
    with pytest.raises(ConfigError) as raised:
        load_config_text(textwrap.dedent(text), tmp_path / "t.toml", display_name="t.toml")
    assert raised.value.errors == [f"t.toml: {error}"]
