"""A child for the parity tests: reports its argv and environment, starts one child of its own
(`sleep`, for the stats' `children`), records the signals it is sent, exits on SIGTERM and
SIGINT. With HEARTBEAT_PORT set it sends the watchdog plugin's `pid;time` heartbeats until a
file `silence-<its pid>` appears."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

directory = os.path.dirname(os.path.abspath(__file__))


def report(**fields: object) -> None:
    with open(os.path.join(directory, "children.jsonl"), "a") as out:
        out.write(json.dumps({"pid": os.getpid(), **fields}) + "\n")


def on_usr1(signum: int, frame: object) -> None:
    report(signal=signum)


def on_term(signum: int, frame: object) -> None:
    sleeper.kill()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


signal.signal(signal.SIGUSR1, on_usr1)
# The lowercase name of Circus' examples/example10.ini.
myvar = os.environ.get("myvar")  # noqa: SIM112
report(argv=sys.argv[1:], myvar=myvar, from_start=os.environ.get("FROM_START"))
sleeper = subprocess.Popen(["sleep", "600"])
signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, on_term)
heartbeat_port = os.environ.get("HEARTBEAT_PORT")
if heartbeat_port:
    beats = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silence = os.path.join(directory, f"silence-{os.getpid()}")
    while not os.path.exists(silence):
        beats.sendto(f"{os.getpid()};{time.time()}".encode(), ("127.0.0.1", int(heartbeat_port)))
        time.sleep(0.1)
while True:
    time.sleep(3600)
