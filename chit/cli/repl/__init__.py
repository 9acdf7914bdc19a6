"""The chat's parts: the streamed answer, tools on screen, the input line, slash commands.

rich and prompt-toolkit are imported here and by the reports only; never by ``chit -p``.
"""
