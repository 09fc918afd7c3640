"""Shared by the decoder's pytest suites: one throwaway server per module."""

import pytest

from support import pgtemp


@pytest.fixture(scope="module")
def cluster(request):
    c = pgtemp.Cluster(pgtemp.pgcdc_install(), request.module.__name__).start()
    yield c
    c.destroy()
