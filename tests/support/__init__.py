"""The code the test suites, the benchmark and the demo share, as one
package: throwaway servers and brokers (pgtemp, kafkacluster, devbroker),
the daemons as processes (daemonproc, binaries), the record format
(pgcdcwire), what tests read back and wait for (checks, kafkaread), the
fault suites' workload (workload) and the pytest plugin of the end-to-end
suites (fixtures).

Imported as support.NAME with tests/ on sys.path: tests/conftest.py puts it
there for pytest (and loads the plugin); scripts (bench/, demo/, the decoder's
regress and roundtrip runners) insert it themselves."""
