"""Run the btu-scheduler benchmarks: ``python benchmarks/run.py [--quick] [--only NAME ...]``.

Starts its own redis-server (persistence off), a stub enqueue endpoint and real
``btu-scheduler run`` daemons, measures, prints one table, and stops all of it at the
end, on Ctrl-C or on error. See docs/performance.md.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> int:
    repo = str(Path(__file__).resolve().parent.parent)
    if repo not in sys.path:
        sys.path.insert(0, repo)
    from benchmarks.driver import main as driver_main

    return driver_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
