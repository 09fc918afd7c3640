"""Every pytest suite's one conftest above its own: it puts tests/ on
sys.path, which makes the support package importable, and loads the
end-to-end suites' fixtures from its plugin, support/fixtures.py.

The helpers' asserts are rewritten as the tests' own are, so that a failing
check in wait_equal or verify shows its values."""

import os
import sys

import pytest

# pytest's default import mode (prepend) has put this directory there
# already, to import this file; --import-mode=importlib does not.
TESTS = os.path.dirname(os.path.abspath(__file__))
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

pytest.register_assert_rewrite("support")

pytest_plugins = ["support.fixtures"]
