"""Running pipelines: the config loader, the runner, worker processes, executors, the stage cache and progress events."""
