#!/usr/bin/env python3
"""mailpipe on Apache Spark, Spark as a thin scheduler: one task per shard, and each task runs
the mailpipe executables on its executor over the tenant's store, with no record passing
through Python or through Spark.

    spark-submit --master spark://head:7077 pipelines/spark/mailpipe_job.py \
        --state /srv/mailpipe/state --tenant sos-expat --bin /srv/mailpipe/bin \
        --output /srv/out/sos-expat-fr --command 'validate | segment --all lang-fr'
    python3 pipelines/spark/mailpipe_job.py …  --master 'local[2]'       # same job, one machine

What it does (docs/scale-out.md has the why):
 1. on the driver: reads contacts/layout.json for the store's shard count n (or takes --shards);
 2. runs n tasks; task i, on whichever executor Spark gives it, runs
        account export --tenant T --shard i/n | COMMAND > OUTPUT/shard-i-of-n.ndjson
    with PATH = --bin first and MAILPIPE_STATE = --state: the state and the output folder are
    paths every executor sees. On a store kept in n shards, export --shard i/n reads sub-store i
    only; a flat store (or another shard count) is read with --shard and filtered, so each task
    reads more than its part (`account reshard --shards n` once makes each read only its own);
 3. `{shard}` in COMMAND becomes the task's i/n, `{tenant}` the tenant;
 4. writes OUTPUT/counts.json (records in and out per shard, and where each task ran) once every
    task succeeded; a failing command fails the job and no counts.json is written.

The master URL is the only difference between a test run (local[2]) and a cluster.
"""
import argparse
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time

DEFAULT_COMMAND = "validate | segment --tenant {tenant}"
# The JVMs only schedule: every record goes through the mailpipe processes. JVMs that start fast
# (C1 compiler only, one GC thread) leave the cores to those: ~2 s less fixed cost per job on
# 2 cores (11.5 → 9.4 s, an empty store in local[2]).
LIGHT_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


def store_shard_count(contacts):
    """The shard count of a tenant's store (contacts/layout.json), or None for a flat store."""
    layout = os.path.join(contacts, "layout.json")
    if not os.path.exists(layout):
        return None
    with open(layout) as f:
        return int(json.load(f)["shards"])


def count_lines(path):
    """Newlines in a file, read in large blocks (no per-record work in Python)."""
    count = 0
    with open(path, "rb") as f:
        while True:
            block = f.read(1 << 20)
            if not block:
                return count
            count += block.count(b"\n")


def shard_task(tenant, state, bin_dir, output, command, n):
    """What one executor does for shard i: the shell pipeline, its output written in place."""

    def run(i):
        shard = f"{i}/{n}"
        env = dict(os.environ)
        if bin_dir:
            # Relative (an --archives folder) means relative to the executor's working folder.
            env["PATH"] = os.path.abspath(bin_dir) + ":" + env.get("PATH", "/usr/local/bin:/usr/bin:/bin")
        env.update({"MAILPIPE_STATE": state, "MAILPIPE_TENANT": tenant, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"})
        final = os.path.join(output, f"shard-{i}-of-{n}.ndjson")
        scratch = tempfile.mkdtemp(prefix=f".shard-{i}-of-{n}-", dir=output)
        partial = os.path.join(scratch, "out.ndjson")
        stats = os.path.join(scratch, "export.json")
        errors = os.path.join(scratch, "stderr")
        script = (f"set -o pipefail; account export --tenant {shlex.quote(tenant)} --shard {shard} "
                  f"--stats {shlex.quote(stats)} | {command.replace('{shard}', shard)} > {shlex.quote(partial)}")
        started = time.time()
        try:
            with open(errors, "wb") as err:
                status = subprocess.run(["bash", "-c", script], env=env, stdin=subprocess.DEVNULL, stderr=err).returncode
            with open(errors, "rb") as err:
                said = err.read().decode("utf-8", "replace")
            if said:
                sys.stderr.write(said)  # the executor's log
            if status != 0:
                raise RuntimeError(f"shard {shard}: `{script}` exited {status}: {said[-2000:]}")
            with open(stats) as f:
                records_in = json.load(f)["out"]
            records_out = count_lines(partial)
            os.replace(partial, final)  # a retried task replaces, never appends
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        seconds = round(time.time() - started, 3)
        ran_on = {"host": socket.gethostname(), "executor": os.environ.get("SPARK_EXECUTOR_ID") or os.getcwd()}
        sys.stderr.write(f"mailpipe_job: shard {shard}: {records_in} in, {records_out} out, {seconds} s "
                         f"on {ran_on['host']} ({ran_on['executor']})\n")
        return {"shard": shard, "in": records_in, "out": records_out, "seconds": seconds, **ran_on}

    return run


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--state", default=os.environ.get("MAILPIPE_STATE", "state"),
                   help="state root: a path every executor sees")
    p.add_argument("--tenant", required=True)
    p.add_argument("--shards", type=int,
                   help="tasks = shards (default: the store's shard count; 2 for a flat store)")
    p.add_argument("--command", default=DEFAULT_COMMAND,
                   help=f"shell pipeline each task runs on its shard (default: {DEFAULT_COMMAND!r})")
    p.add_argument("--bin", help="folder of the mailpipe executables on every executor "
                                 "(a shared path, or ./NAME of an --archives upload)")
    p.add_argument("--output", required=True, help="output folder: a path every executor sees (created)")
    p.add_argument("--master", default=os.environ.get("MAILPIPE_SPARK_MASTER"),
                   help="Spark master URL (default: spark-submit's, else local[2])")
    p.add_argument("--jvm-options", default=LIGHT_JVM,
                   help=f"extra options of the driver's JVM (when this script starts it) and the executors' "
                        f"(unless spark.executor.extraJavaOptions is set); '' keeps Spark's (default: {LIGHT_JVM!r})")
    args = p.parse_args(argv)

    state = os.path.abspath(args.state)
    output = os.path.abspath(args.output)
    tenant_dir = os.path.join(state, args.tenant)
    if not os.path.exists(os.path.join(tenant_dir, "tenant.json")):
        raise SystemExit(f"mailpipe_job: tenant '{args.tenant}' has no state at {tenant_dir}")
    store_shards = store_shard_count(os.path.join(tenant_dir, "contacts"))
    n = args.shards or store_shards or 2
    if n < 1:
        raise SystemExit("mailpipe_job: --shards must be at least 1")
    if store_shards != n:
        kept = "flat" if store_shards is None else f"kept in {store_shards} shards"
        sys.stderr.write(f"mailpipe_job: the store is {kept}: each of the {n} tasks reads more than its shard "
                         f"(`account reshard --tenant {args.tenant} --shards {n}` makes each read only its own)\n")
    command = args.command.replace("{tenant}", args.tenant)

    from pyspark import SparkConf, SparkContext

    # Start (or join, under spark-submit) the JVM first: only then does SparkConf see
    # spark-submit's settings, --master among them.
    launch = SparkConf(loadDefaults=False)
    if args.jvm_options and "PYSPARK_GATEWAY_PORT" not in os.environ:  # else spark-submit started it
        launch = launch.set("spark.driver.extraJavaOptions", args.jvm_options)
    SparkContext._ensure_initialized(conf=launch)
    conf = (SparkConf().setAppName(f"mailpipe {args.tenant}: {command}")
            .set("spark.ui.showConsoleProgress", "false")
            .set("spark.ui.enabled", "false"))
    if args.master:
        conf = conf.setMaster(args.master)
    elif not conf.contains("spark.master"):
        conf = conf.setMaster("local[2]")
    # One task per shard, and a task is a whole shard: never run one twice at once.
    conf = conf.set("spark.speculation", "false")
    if args.jvm_options and not conf.contains("spark.executor.extraJavaOptions"):
        conf = conf.set("spark.executor.extraJavaOptions", args.jvm_options)

    os.makedirs(output, exist_ok=True)
    for name in os.listdir(output):
        if name == "counts.json" or (name.startswith("shard-") and name.endswith(".ndjson")):
            os.remove(os.path.join(output, name))

    sc = SparkContext.getOrCreate(conf)
    sc.setLogLevel("WARN")
    try:
        task = shard_task(args.tenant, state, args.bin, output, command, n)
        results = sc.parallelize(range(n), n).map(task).collect()
    finally:
        sc.stop()

    results.sort(key=lambda r: int(r["shard"].split("/")[0]))
    counts = {
        "tenant": args.tenant,
        "command": command,
        "shards": n,
        "store_shards": store_shards,
        "in": sum(r["in"] for r in results),
        "out": sum(r["out"] for r in results),
        "per_shard": results,
    }
    with open(os.path.join(output, "counts.json"), "w") as f:
        json.dump(counts, f, indent=2)
        f.write("\n")
    executors = len({(r["host"], r["executor"]) for r in results})
    sys.stderr.write(f"mailpipe_job: {counts['in']} in, {counts['out']} out, {n} shards on {executors} "
                     f"executor(s) -> {output}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
