"""``chit -p``: one turn without the REPL."""

from __future__ import annotations

import argparse

from chit.errors import ChitError


def run_print(args: argparse.Namespace) -> int:
    """Run one turn and print it; returns the exit status."""
    raise ChitError("print mode is not built yet")
