"""Numbers about a model's outputs and cost: comparators, input feeds, latency, memory estimates."""
