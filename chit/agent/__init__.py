"""The agent loop: runs user turns over a provider, tools and a session."""
