"""Splitting a graph between a target's subgraph engine and the CPU: the algorithm, the builder and the runtime op."""
