"""chit: a terminal AI agent that keeps an exact, resumable tab of every token it spends."""

__version__ = "0.1.0"
