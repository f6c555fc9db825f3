"""Run the benchmarks and print their tables.

Each benchmark is a module of this package with a `main() -> str` that runs one side-by-side
comparison and returns a Markdown table; the tables are printed as they finish and collected in
`bench/results.md` so the docs can quote the latest run.
"""

from __future__ import annotations

import importlib
import pathlib
import sys

BENCHMARKS = ("hooks_sync", "database_service", "backup")


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    sections = []
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        table = module.main()
        print(table, flush=True)
        sections.append(table)
    out = pathlib.Path(__file__).with_name("results.md")
    out.write_text("\n\n".join(sections) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
