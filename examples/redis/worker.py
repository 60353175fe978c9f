"""A tiny queue worker: BLPOP a JSON job from `jobs`, push its result to `results`.

A job is {"id": ..., "numbers": [...]}; its result is {"id": ..., "sum": ...}. SIGTERM lets the
current job finish, then the worker exits 0.
"""

from __future__ import annotations

import json
import os
import signal
import time
from types import FrameType

import redis

stopping = False


def on_sigterm(signum: int, frame: FrameType | None) -> None:
    global stopping
    stopping = True


def main() -> None:
    signal.signal(signal.SIGTERM, on_sigterm)
    port = int(os.environ.get("REDIS_PORT", "6379"))
    client = redis.Redis(host="127.0.0.1", port=port)
    print(f"worker ready (redis port {port})", flush=True)
    while not stopping:
        try:
            item = client.blpop(["jobs"], timeout=1)
        except redis.ConnectionError as error:
            print(f"redis unavailable: {error}", flush=True)
            time.sleep(0.5)
            continue
        if item is None:
            continue
        job = json.loads(item[1])
        client.rpush("results", json.dumps({"id": job["id"], "sum": sum(job["numbers"])}))
        print(f"job {job['id']} done", flush=True)
    print("worker stopping", flush=True)


if __name__ == "__main__":
    main()
