"""The partition stage: accelerator subgraphs and the CPU nodes between them."""
