"""The binaries under test: the build directory ($PGCDC_BUILD, else build/
in the checkout) and the two daemons in it."""

import os

from .pgtemp import REPO

BUILD = os.environ.get("PGCDC_BUILD", os.path.join(REPO, "build"))
WALSTREAMER = os.path.join(BUILD, "streamer", "walstreamer")
WALSINK = os.path.join(BUILD, "sink", "walsink")
