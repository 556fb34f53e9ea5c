"""The contracts every other package builds on: errors, registries, diagnostics, stage and param specs, plugins, atomic writes, third-party error text, package probes."""
