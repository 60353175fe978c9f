"""What every test suite shares: waiting on conditions, reading /proc, building arbiters.

- `tests.support.waiting`: `wait_until` (async) and `wait_until_sync`, the one way to poll.
- `tests.support.procs`: the one /proc reader (alive, state, ppid, pgid, children, environ,
  processes found by an environment tag) and killing by pid or process group.
- `tests.support.core`: configs from TOML, the next matching bus event, stopping an arbiter.
"""
