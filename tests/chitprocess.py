"""chit as a command, for tests that run it as users and scripts do.

``CHIT`` starts the same entry point as the ``chit`` script, with Ctrl-C handled as an
interactive shell would deliver it: a test suite started in the background (``nohup ... &``)
has SIGINT ignored, and a child would inherit that and never see its Ctrl-C.
"""

from __future__ import annotations

import sys

_START = (
    "import signal, sys\n"
    "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "sys.argv[0] = 'chit'\n"
    "from chit.cli.main import main\n"
    "main()\n"
)

CHIT = [sys.executable, "-c", _START]
"""The command line that runs chit; append its arguments."""
