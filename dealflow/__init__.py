"""Wiring: settings, the ASGI app, the CLI and the embedded database."""
