"""Subcommands of `pipeline`; pipeline/cli/__init__.py lists them in COMMANDS."""
