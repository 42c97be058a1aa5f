"""Counts the bad inputs that the tests try, per category, as a Markdown table for README.md's
Reliability section:

    python scripts/count_bad_inputs.py

The entries are those of ``BAD_INPUTS`` in tests/python/test_bad_inputs.py, where each is checked
to raise its exact error class with its message; that file's docstring defines the categories.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

# The table lives among the tests, which are not an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))

from test_bad_inputs import BAD_INPUTS, CATEGORIES


def main() -> int:
    counts = Counter(entry.category for entry in BAD_INPUTS)
    print("| category | bad inputs |")
    print("|---|---:|")
    for category in CATEGORIES:
        print(f"| {category} | {counts[category]} |")
    print(f"| **total** | **{len(BAD_INPUTS)}** |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
