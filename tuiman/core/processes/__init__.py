"""Child processes and the OS: spawning with pidfds (`process`), output reading, the ring buffer
and log files (`output`), /proc parsing (`procfs`), CPU/RSS sampling (`stats`), orphan and group
reaping (`reaper`) and the watchdog process that outlives a killed tuiman (`watchdog`).

Imports `config` and the leaves; knows nothing of watchers, hooks or the arbiter.
"""
