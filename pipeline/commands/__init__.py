"""Subcommands of `pipeline`; pipeline/cli.py lists them in COMMANDS."""
