#!/usr/bin/env python3
"""Every benchmark, with its anchors side by side in the same run: the
decoder (decoder.py), walstreamer (streamer.py), walsink with the whole
pipeline and latency (sink.py) and walstreamer's snapshot (snapshot.py).
Each writes its section of RESULTS.md; this script then adds PNG plots made
with gnuplot (throughput per system, latency distribution; the snapshot's
figures are in its table only) and a section linking them.

usage: python3 bench/run.py [--quick] [--build DIR] [--output FILE] [--broker kafka|dev|both]

Full: bench/RESULTS.md and bench/plots/, about 13 minutes on the dev broker
alone, about 20 with both brokers (the default).  --quick: small workloads,
one round, no warm-up, into <build>/bench-quick/ unless --output is given;
1-2 minutes.  --broker goes to streamer.py, sink.py and snapshot.py
(the decoder benchmark has no broker; the snapshot's full size runs on
Kafka alone).  Needs what the three scripts need
(see bench/README.md) and gnuplot (gnuplot-nox).
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
import brokers  # noqa: E402  (add_option)
import decoder  # noqa: E402  (write_results)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--quick", action="store_true", help="small and fast: about 2 minutes")
    p.add_argument("--output", default=None,
                   help="results file (default bench/RESULTS.md; --quick: <build>/bench-quick/RESULTS.md)")
    brokers.add_option(p)
    args = p.parse_args()
    args.build = os.path.abspath(args.build)    # the scripts run from the repository's root
    if args.output is not None:
        args.output = os.path.abspath(args.output)
    if args.output is None:
        args.output = (os.path.join(os.path.abspath(args.build), "bench-quick", "RESULTS.md")
                       if args.quick else os.path.join(ROOT, "bench", "RESULTS.md"))
    return args


def steps(args, data):
    """[(name, argv)]: the four benchmarks, each writing JSON into data/."""
    py = [sys.executable]
    common = ["--build", args.build, "--output", args.output]
    broker = ["--broker", args.broker]
    if args.quick:
        return [
            ("decoder", py + ["bench/decoder.py", "--workload", "a", "--runs", "1", "--scale", "0.05"]),
            ("streamer", py + ["bench/streamer.py", "--runs", "1", "--scale", "0.05", "--no-million"]
             + broker),
            ("sink", py + ["bench/sink.py", "--quick", "--scale", "0.1", "--latency-seconds", "3",
                           "--anchor-limit", "2000"] + broker),
            ("snapshot", py + ["bench/snapshot.py", "--quick"] + broker),
        ], common, data
    return [
        ("decoder", py + ["bench/decoder.py"]),
        ("streamer", py + ["bench/streamer.py"] + broker),
        ("sink", py + ["bench/sink.py"] + broker),
        # Kafka only at full size (the dev broker keeps ~5 MB a partition):
        # snapshot.py leaves the dev broker out of "both" itself.
        ("snapshot", py + ["bench/snapshot.py"] + broker),
    ], common, data


# Bar colours: the broker a bar ran on; grey for what runs on none.
COLOURS = {"kafka": "#4477aa", "dev": "#ee7733", None: "#999999"}


def kind(broker):
    """A broker label's kind: "kafka", "dev", or None (no broker)."""
    if broker is None:
        return None
    return "kafka" if broker.startswith("Kafka") else "dev"


def bars(path, rows):
    """rows: (label, broker label or None, value); the broker, shortened
    ("Kafka 4.3.0, 1 broker" to "Kafka 4.3.0"), goes into the label and
    picks the colour."""
    with open(path, "w") as f:
        for label, broker, value in rows:
            name = f"{label} [{broker.split(',')[0]}]" if broker else label
            # gnuplot's "lc rgb variable" takes the colour as an integer.
            f.write(f'"{name}" {value:.1f} {int(COLOURS[kind(broker)][1:], 16)}\n')


GNUPLOT_THROUGHPUT = """
set terminal pngcairo size 1600,1100 font ",10" noenhanced
set output "{out}"
set multiplot layout 2,2 title "pgcdc and its anchors, same run: changes per second (higher is better); blue: on Kafka, orange: on the dev broker, grey: no broker"
set style fill solid 0.8 border -1
set boxwidth 0.7
set yrange [0:*]
set grid ytics
set xtics rotate by -35 left nomirror font ",9"
set format y "%.0s%c"
set bmargin 12
set rmargin 16
unset key
set title "decoder, workload (a), walsender path"
plot "{d}/decoder.dat" using 0:2:3:xtic(1) with boxes lc rgb variable
set title "streaming a slot: to the broker, all acknowledged, vs pg_recvlogical to /dev/null"
plot "{d}/streamer.dat" using 0:2:3:xtic(1) with boxes lc rgb variable
set title "apply from a pre-filled topic: walsink vs row-by-row upsert"
plot "{d}/apply.dat" using 0:2:3:xtic(1) with boxes lc rgb variable
set title "whole pipeline, source commit -> target applied"
plot "{d}/pipeline.dat" using 0:2:3:xtic(1) with boxes lc rgb variable
unset multiplot
"""

GNUPLOT_LATENCY = """
set terminal pngcairo size 1100,700 font ",10" noenhanced
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
         sorted(((label, None, a["changes"] / (p["walsender_ms"] / 1000))
                 for label, p in a["plugins"].items() if label != decoder.FLOOR),
                key=lambda r: -r[2]))
    bars(os.path.join(data, "streamer.dat"),
         [(p["short"], p["broker"], st["changes"] / p["best"]) for p in st["paths"]])
    bars(os.path.join(data, "apply.dat"),
         [("walsink" if r["consumer"] == "walsink" else "row-by-row anchor", r["broker"],
           max(r["rates"])) for r in sink["apply"]])
    bars(os.path.join(data, "pipeline.dat"),
         [(pipeline_name(r), r["broker"], sink["changes"] / min(r["times"]))
          for r in sink["pipeline"]])
    os.makedirs(outdir, exist_ok=True)
    script = GNUPLOT_THROUGHPUT.format(out=os.path.join(outdir, "throughput.png"), d=data)
    series = []
    for i, s in enumerate(sink["latency"]):
        path = os.path.join(data, f"latency{i}.dat")
        with open(path, "w") as f:
            for k, ms in enumerate(s["cdf"]):
                f.write(f"{max(ms, 0.01):.3f} {k * 0.5:.1f}\n")
        label = f"{pipeline_name(s)} [{s['broker']}]" if s["broker"] else pipeline_name(s)
        # The broker's colour; walsink's defaults solid, the short fetch wait dashed.
        style = "lw 2.5" if s["pipeline"] in ("defaults",) or not s["broker"] else "lw 1.5 dt 2"
        series.append(f'"{path}" using 1:2 with lines {style} lc rgb "{COLOURS[kind(s["broker"])]}" '
                      f'title "{label} (p99 {s["p99"]:.1f} ms)"')
    script += GNUPLOT_LATENCY.format(out=os.path.join(outdir, "latency.png"), series=", ".join(series))
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def pipeline_name(r):
    """A pipeline of sink.json as a plot label: pgcdc and walsink's configuration."""
    return f"pgcdc, {r['pipeline']}" if r["broker"] else r["pipeline"]


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
