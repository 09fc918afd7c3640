"""Shared by the decoder's pytest suites: one throwaway server per module."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
import pgtemp  # noqa: E402


@pytest.fixture(scope="module")
def cluster(request):
    c = pgtemp.Cluster(pgtemp.pgcdc_install(), request.module.__name__).start()
    yield c
    c.destroy()
