"""Hooks of the redis example: check that redis answers before the worker starts.

Like the seed's `check_redis`, but with the port taken from the watcher's environment and a
short retry instead of a fixed sleep. It runs in one of tuiman's hook threads, so its waiting
never stalls tuiman.
"""

from __future__ import annotations

import time
from typing import Any

import redis

WAIT_SECONDS = 3.0  # how long redis gets to come up


def check_redis(watcher: Any, arbiter: Any, hook_name: str, **kwargs: Any) -> bool:
    """before_start: True once redis answers a SET/GET; False (veto) if it never does."""
    port = int(watcher.env.get("REDIS_PORT", "6379"))
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1.0)
    deadline = time.monotonic() + WAIT_SECONDS
    try:
        while True:
            try:
                client.set("tuiman:check", "bar")
                return bool(client.get("tuiman:check") == b"bar")
            except redis.ConnectionError as error:
                if time.monotonic() >= deadline:
                    arbiter.publish("redis_down", watcher=watcher.name, port=port, error=str(error))
                    return False
                time.sleep(0.1)
    finally:
        client.close()
