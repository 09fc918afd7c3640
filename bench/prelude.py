"""What the sink and streamer benchmarks do before their other imports:
run under Debian's interpreter, and put tests/ on sys.path for the support
package (tests/support: pgtemp, the brokers, the record format).

Debian's python3 has python3-confluent-kafka and python3-psycopg2 (which
tests/support/kafkacluster.py also asks whether a broker serves); another
python3 first on PATH (pyenv) may not: the script is run again under
/usr/bin/python3, with the same arguments."""

import os
import sys

try:
    import confluent_kafka  # noqa: F401
    import psycopg2  # noqa: F401
except ImportError:
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
