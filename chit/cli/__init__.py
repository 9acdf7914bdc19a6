"""Front ends: the command line, print mode and the interactive terminal."""
