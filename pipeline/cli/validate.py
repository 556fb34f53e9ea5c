"""`pipeline validate FILE`: every problem as FILE:LINE:COL: message; exit 0 or 2."""
from __future__ import annotations

from pipeline.run.config import load_config

HELP = "validate a pipelines file without running anything"


def add_arguments(parser) -> None:
    parser.add_argument("file", help="the pipelines file (YAML)")


def main(args) -> int:
    config = load_config(args.file)  # ConfigError -> one line per problem, exit 2 (pipeline.cli)
    cells = len(config.pipelines)
    print(f"{args.file}: ok ({cells} pipeline{'s' if cells != 1 else ''}: "
          f"{', '.join(p.name for p in config.pipelines)})")
    return 0
