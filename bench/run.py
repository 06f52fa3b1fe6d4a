"""Run every benchmark in bench/ (each ``bench_*.py``, in name order), one after the other.

    python bench/run.py              # what `make bench` runs
    python bench/run.py --records 100000

Arguments are passed to every benchmark unchanged (they all take ``--records``). The exit status is
the first failing benchmark's, or 0.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    status = 0
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"== {script.name} ==", flush=True)
        code = subprocess.run([sys.executable, str(script), *sys.argv[1:]]).returncode
        if code and not status:
            status = code
        print(flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
