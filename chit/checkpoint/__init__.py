"""Sessions: the crash-safe journal of messages, usage records and checkpoints."""
