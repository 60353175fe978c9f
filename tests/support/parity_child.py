"""A child for the parity tests: reports its argv and environment, starts one child of its own
(`sleep`, for the stats' `children`), records the signals it is sent, exits on SIGTERM."""

import json
import os
import signal
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
while True:
    time.sleep(3600)
