"""Numbers about a model's outputs and cost: comparators, input feeds, dataset accuracy, latency, memory estimates."""
