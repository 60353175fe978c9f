"""The argument parser of every tuiman command line (`tuiman`, `tuiman attach`, `tuiman ctl`).

A usage error is one line naming the problem, and exit status 2; argparse would print the whole
usage otherwise.
"""

from __future__ import annotations

import argparse

EXIT_USAGE = 2


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")
