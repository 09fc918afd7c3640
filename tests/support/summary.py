#!/usr/bin/env python3
"""Print "N passed, N failed, N skipped" over meson testlog.json files."""

import json
import sys


def main():
    passed = failed = skipped = 0
    for path in sys.argv[1:]:
        try:
            with open(path) as f:
                lines = [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            failed += 1
            print(f"{path}: missing, counted as a failure", file=sys.stderr)
            continue
        for result in lines:
            outcome = result.get("result")
            if outcome in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif outcome == "SKIP":
                skipped += 1
            else:
                failed += 1
    print(f"{passed} passed, {failed} failed, {skipped} skipped")


if __name__ == "__main__":
    main()
