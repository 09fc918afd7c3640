#!/usr/bin/env python3
"""Every benchmark, with its anchors side by side in the same run: the
decoder (decoder.py), walstreamer (streamer.py) and walsink with the whole
pipeline and latency (sink.py).  Each writes its section of RESULTS.md; this
script then adds PNG plots made with gnuplot (throughput per system,
latency distribution) and a section linking them.

usage: python3 bench/run.py [--quick] [--build DIR] [--output FILE]

Full: bench/RESULTS.md and bench/plots/, about 25 minutes.  --quick: small
workloads, one round, no warm-up, into <build>/bench-quick/ unless --output
is given; within 2 minutes.  Needs what the three scripts need (see
bench/README.md) and gnuplot (gnuplot-nox).
"""

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
START = "<!-- plots:start -->"
END = "<!-- plots:end -->"

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import decoder  # noqa: E402  (write_results)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--quick", action="store_true", help="small and fast: within 2 minutes")
    p.add_argument("--output", default=None,
                   help="results file (default bench/RESULTS.md; --quick: <build>/bench-quick/RESULTS.md)")
    args = p.parse_args()
    args.build = os.path.abspath(args.build)    # the scripts run from the repository's root
    if args.output is not None:
        args.output = os.path.abspath(args.output)
    if args.output is None:
        args.output = (os.path.join(os.path.abspath(args.build), "bench-quick", "RESULTS.md")
                       if args.quick else os.path.join(ROOT, "bench", "RESULTS.md"))
    return args


def steps(args, data):
    """[(name, argv)]: the three benchmarks, each writing JSON into data/."""
    py = [sys.executable]
    common = ["--build", args.build, "--output", args.output]
    if args.quick:
        return [
            ("decoder", py + ["bench/decoder.py", "--workload", "a", "--runs", "1", "--scale", "0.05"]),
            ("streamer", py + ["bench/streamer.py", "--runs", "1", "--scale", "0.05", "--no-million"]),
            ("sink", py + ["bench/sink.py", "--quick", "--scale", "0.1", "--latency-seconds", "3",
                           "--anchor-limit", "2000"]),
        ], common, data
    return [
        ("decoder", py + ["bench/decoder.py"]),
        ("streamer", py + ["bench/streamer.py"]),
        ("sink", py + ["bench/sink.py"]),
    ], common, data


def bars(path, rows):
    with open(path, "w") as f:
        for label, value in rows:
            f.write(f'"{label}" {value:.1f}\n')


GNUPLOT_THROUGHPUT = """
set terminal pngcairo size 1400,1000 font ",10" noenhanced
set output "{out}"
set multiplot layout 2,2 title "pgcdc and its anchors, same run: changes per second (higher is better)"
set style data histograms
set style fill solid 0.8 border -1
set boxwidth 0.7
set yrange [0:*]
set grid ytics
set xtics rotate by -20 left nomirror
set format y "%.0s%c"
unset key
set title "decoder, workload (a), walsender path"
plot "{d}/decoder.dat" using 2:xtic(1) lc rgb "#4477aa"
set title "streaming a slot: to Kafka, all acknowledged, vs pg_recvlogical to /dev/null"
plot "{d}/streamer.dat" using 2:xtic(1) lc rgb "#66ccee"
set title "apply from a pre-filled topic: walsink vs row-by-row upsert"
plot "{d}/apply.dat" using 2:xtic(1) lc rgb "#228833"
set title "whole pipeline, source commit -> target applied"
plot "{d}/pipeline.dat" using 2:xtic(1) lc rgb "#ccbb44"
unset multiplot
"""

GNUPLOT_LATENCY = """
set terminal pngcairo size 1000,600 font ",10" noenhanced
set output "{out}"
set title "commit -> applied latency at a steady rate: distribution"
set xlabel "latency, ms (log scale)"
set ylabel "share of rows applied within"
set logscale x
set format y "%.0f%%"
set yrange [0:100]
set grid
set key outside below
plot {series}
"""


def plot(data, outdir):
    """throughput.png and latency.png from the benchmarks' JSON."""
    def load(name):
        with open(os.path.join(data, f"{name}.json")) as f:
            return json.load(f)
    dec, st, sink = load("decoder"), load("streamer"), load("sink")
    a = dec["a"]
    bars(os.path.join(data, "decoder.dat"),
         sorted(((label, a["changes"] / (p["walsender_ms"] / 1000)) for label, p in a["plugins"].items()
                 if label != decoder.FLOOR), key=lambda r: -r[1]))
    bars(os.path.join(data, "streamer.dat"),
         [(short, st["changes"] / t) for short, t in zip(
             ("walstreamer -> Kafka", "pg_recvlogical pgoutput", "pg_recvlogical pgcdc",
              "pg_recvlogical pgcdc batched"), st["paths"].values())])
    bars(os.path.join(data, "apply.dat"),
         [("walsink", max(sink["apply"]["walsink"])), ("row-by-row anchor", max(sink["apply"]["anchor"]))])
    bars(os.path.join(data, "pipeline.dat"),
         [("walstreamer + walsink", sink["changes"] / min(sink["pipeline"]["pgcdc"])),
          ("same, fetch.wait.max.ms=10", sink["changes"] / min(sink["pipeline"]["short"])),
          ("native logical replication", sink["changes"] / min(sink["pipeline"]["native"]))])
    os.makedirs(outdir, exist_ok=True)
    script = GNUPLOT_THROUGHPUT.format(out=os.path.join(outdir, "throughput.png"), d=data)
    series = []
    for i, (label, s) in enumerate(sink["latency"].items()):
        path = os.path.join(data, f"latency{i}.dat")
        with open(path, "w") as f:
            for k, ms in enumerate(s["cdf"]):
                f.write(f"{max(ms, 0.01):.3f} {k * 0.5:.1f}\n")
        series.append(f'"{path}" using 1:2 with lines lw 2 title "{label} (p99 {s["p99"]:.1f} ms)"')
    script += GNUPLOT_LATENCY.format(out=os.path.join(outdir, "latency.png"), series=", ".join(series))
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def main():
    args = parse_args()
    if shutil.which("gnuplot") is None:
        sys.exit("bench/run.py: gnuplot not found (apt-get install gnuplot-nox)")
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    data = tempfile.mkdtemp(prefix="pgcdc-bench-")
    t0 = time.monotonic()
    try:
        todo, common, _ = steps(args, data)
        for name, argv in todo:
            argv = argv + common + ["--json", os.path.join(data, f"{name}.json")]
            print(f"== {name}: {shlex.join(argv[1:])}", file=sys.stderr, flush=True)
            subprocess.run(argv, cwd=ROOT, check=True)
        plots = os.path.join(os.path.dirname(args.output), "plots")
        plot(data, plots)
    finally:
        shutil.rmtree(data, ignore_errors=True)
    rel = os.path.relpath(plots, os.path.dirname(args.output))
    argv = shlex.join(["python3", os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:])
    decoder.write_results(args.output, "\n".join([
        START, "## Plots", "",
        f"Generated by `{argv}` from the runs above ({time.monotonic() - t0:.0f} s in all); "
        "do not edit between the markers.", "",
        f"![changes per second of pgcdc and its anchors]({rel}/throughput.png)", "",
        f"![commit to applied latency, distribution]({rel}/latency.png)", "", END]) + "\n", START, END)
    print(f"wrote {args.output} and {plots}/ in {time.monotonic() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
