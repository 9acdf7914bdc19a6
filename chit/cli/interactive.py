"""The interactive terminal."""

from __future__ import annotations

import argparse

from chit.errors import ChitError


def run_interactive(args: argparse.Namespace) -> int:
    """Run the REPL; returns the exit status."""
    raise ChitError("the interactive terminal is not built yet")
