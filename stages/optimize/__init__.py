"""The optimize stage and its graph passes."""
