"""``python -m bench``: run every benchmark and print its table."""

from __future__ import annotations

import sys


def main() -> int:
    print("No benchmark yet: the receiver benchmarks arrive with issue 6 (performance).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
