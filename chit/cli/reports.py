"""``chit usage`` and ``chit sessions``."""

from __future__ import annotations

import argparse

from chit.errors import ChitError


def run_report(command: str, args: argparse.Namespace) -> int:
    """Print a report; returns the exit status."""
    raise ChitError(f"'chit {command}' is not built yet")
