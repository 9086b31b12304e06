"""`python -m bench`: every benchmark, each against a scratch database of its own."""

import os
import subprocess
import sys

from bench import demo, forecast, moves


def main() -> None:
    args = sys.argv[1:]
    environment = dict(os.environ)  # before the benchmarks below point it at their scratch
    demo.main(args)
    moves.main(args)
    forecast.main(args)  # no database: NumPy only
    # Each in a process of its own: Django serves one database per process, and the page
    # bench keeps its large demo in a database of its own between runs.
    for module in (
        "bench.imports",
        "bench.pages",
        "bench.api",
        "bench.scorecard",
        "bench.planning",
        "bench.model",
        "bench.capture",
        "bench.leads",
        "bench.collateral",
    ):
        sys.stdout.flush()
        command = [sys.executable, "-m", module, *args]
        subprocess.run(command, env=environment, check=True)  # noqa: S603 - our own modules


if __name__ == "__main__":
    main()
