"""The ``chit`` command: parses the line, dispatches, and turns errors into one line and a status.

Kept light on purpose: nothing heavy (SDKs, rich, prompt-toolkit) is imported until a
command needs it, so ``chit --version`` and ``chit --help`` start fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from chit import __version__, signals
from chit.errors import BadInput, ChitError

PROG = "chit"
SUBCOMMANDS = ("usage", "sessions", "models")
#: ``--provider`` names (chit.providers.PROVIDERS, not imported here to start fast).
PROVIDER_NAMES = (
    "anthropic",
    "openai",
    "openai-responses",
    "ollama",
    "bedrock",
    "vertex",
    "azure",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise BadInput(f"{message} (see chit --help)")


def _usd(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount of USD: {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise argparse.ArgumentTypeError(f"--max-cost must be a positive amount, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    return _positive(int, text, "a whole number")


def _seconds(text: str) -> float:
    return _positive(float, text, "a number of seconds")


def _percent(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole percentage: {text!r}") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be 0 to 100, got {text!r}")
    return value


_Number = TypeVar("_Number", int, float)


def _positive(kind: type[_Number], text: str, what: str) -> _Number:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--home", metavar="DIR", help="where sessions live (also CHIT_HOME)")


def build_parser() -> argparse.ArgumentParser:
    """The parser for ``chit`` itself (chat and print mode)."""
    p = _Parser(
        prog=PROG,
        description="A terminal AI agent that keeps an exact tab of every token it spends.",
        epilog="Other commands: 'chit usage [SESSION] [--requests] [--json]', "
        "'chit usage --all [--since 7d|DATE] [--json]', "
        "'chit usage --export-otlp [SESSION|--all]', 'chit sessions [--json]', "
        "'chit models [--provider P] [--json]'.",
    )
    p.add_argument("--version", action="version", version=f"chit {__version__}")
    p.add_argument(
        "-p",
        "--print",
        dest="prompt",
        metavar="PROMPT",
        help="run one turn without the REPL and print the answer ('-' reads stdin)",
    )
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "-c",
        "--continue",
        dest="continue_",
        action="store_true",
        help="continue the most recent session",
    )
    group.add_argument(
        "-r",
        "--resume",
        metavar="SESSION",
        help="continue a session: an id, a unique id prefix, or a path",
    )
    p.add_argument(
        "--fork",
        action="store_true",
        help="with -c / -r: continue in a new session that names its parent",
    )
    p.add_argument(
        "--provider",
        choices=list(PROVIDER_NAMES),
        help="the provider (default: from the model name, then from credentials)",
    )
    p.add_argument("--model", help="the model (a default per provider)")
    p.add_argument("--base-url", metavar="URL", help="the provider's endpoint")
    p.add_argument(
        "--output-format",
        choices=["text", "json"],
        default="text",
        help="with -p: the answer as text or one JSON object",
    )
    p.add_argument("--no-tools", action="store_true", help="offer the model no tools")
    p.add_argument(
        "--allow-tools",
        action="store_true",
        help="with -p: let the model write files, run commands and read outside the folder",
    )
    p.add_argument(
        "--allow-read",
        action="append",
        default=[],
        metavar="PATH",
        help="let the read tools into PATH (a file or folder) outside the working folder",
    )
    p.add_argument("--max-cost", type=_usd, metavar="USD", help="the session's budget in USD")
    p.add_argument(
        "--max-tokens", type=_positive_int, metavar="N", help="the session's budget in tokens"
    )
    p.add_argument(
        "--max-output-tokens",
        type=_positive_int,
        default=8192,
        metavar="N",
        help="the most output tokens one request may ask for (default 8192; less when a "
        "token budget has less left)",
    )
    p.add_argument(
        "--timeout",
        type=_seconds,
        metavar="S",
        help="seconds to wait for a first byte and for each chunk after it (default 60, 120)",
    )
    p.add_argument(
        "--max-requests",
        type=_positive_int,
        default=25,
        metavar="N",
        help="the most provider requests in one turn (default 25)",
    )
    p.add_argument(
        "--auto-compact",
        type=_percent,
        default=85,
        metavar="PCT",
        help="summarise the conversation before a turn when the last request used more than "
        "PCT %% of the context window, and when the provider refuses it as too long "
        "(default 85; 0 turns it off)",
    )
    p.add_argument(
        "--cache-ttl",
        choices=["5m", "1h"],
        default="5m",
        help="Anthropic prompt-cache lifetime (default 5m)",
    )
    _common(p)
    return p


def build_subparser(command: str) -> argparse.ArgumentParser:
    """The parser for ``chit usage``, ``chit sessions`` and ``chit models``."""
    if command == "usage":
        p = _Parser(
            prog="chit usage",
            description="Where the tokens and the money went: a session's report, its requests "
            "(--requests), or every session summed (--all); no model call.",
        )
        p.add_argument("session", nargs="?", help="id, unique id prefix or path (default: latest)")
        p.add_argument(
            "--requests", action="store_true", help="one row per request: turn, model, counts, cost"
        )
        p.add_argument(
            "--all", action="store_true", help="every session summed: by model, day and project"
        )
        p.add_argument(
            "--since", metavar="WHEN", help="with --all: the last N days (7d) or from a UTC date"
        )
        p.add_argument(
            "--export-otlp",
            action="store_true",
            help="send the session's (or with --all every session's) records to the "
            "OpenTelemetry collector OTEL_EXPORTER_OTLP_ENDPOINT names",
        )
    elif command == "models":
        p = _Parser(prog="chit models", description="Models served, with context and price.")
        p.add_argument("--provider", choices=["anthropic", "openai", "ollama"])
    else:
        p = _Parser(prog="chit sessions", description="Sessions, newest first.")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _common(p)
    return p


def _command_word(argv: Sequence[str]) -> int | None:
    """Where ``usage`` or ``sessions`` stands, after any options the commands share
    (``chit --home D sessions`` is ``chit sessions --home D``); ``None`` for a chat or -p."""
    i = 0
    while i < len(argv) and argv[i].startswith("--home"):
        i += 1 if "=" in argv[i] else 2
    return i if i < len(argv) and argv[i] in SUBCOMMANDS else None


def run(argv: Sequence[str]) -> int:
    """Run the command line; returns the exit status. Errors are raised as ChitError."""
    at = _command_word(argv)
    if at is not None:
        command = argv[at]
        args = build_subparser(command).parse_args([*argv[:at], *argv[at + 1 :]])
        if command == "models":
            from chit.cli.models import run_models

            return run_models(args)
        from chit.cli.reports import run_report

        return run_report(command, args)
    args = build_parser().parse_args(argv)
    if args.prompt is not None:
        from chit.cli.printmode import run_print

        return run_print(args)
    from chit.cli.interactive import run_interactive

    return run_interactive(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``chit`` script.

    Ctrl-C, SIGTERM and SIGHUP stop the request in flight, which is recorded first (see
    :mod:`chit.signals`); once the work is done, a late signal changes nothing.
    """
    signals.install()
    try:
        code = run(sys.argv[1:] if argv is None else argv)
    except ChitError as e:
        print(f"chit: {e}", file=sys.stderr)
        code = e.exit_code
    except KeyboardInterrupt:  # before any request was sent, or between turns
        signum = signals.received()
        print("chit: interrupted", file=sys.stderr)
        code = 130 if signum is None else signals.exit_status(signum)
    except BrokenPipeError:
        code = 1
    signals.quiet()
    sys.exit(code)
