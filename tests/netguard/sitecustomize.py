"""Installed into every Python process the tests start (via PYTHONPATH): no network but loopback."""

from _chit_netguard import install

install()
