"""`python -m bench`: every benchmark, each against a scratch database of its own."""

import sys

from bench import demo, moves


def main() -> None:
    args = sys.argv[1:]
    demo.main(args)
    moves.main(args)


if __name__ == "__main__":
    main()
