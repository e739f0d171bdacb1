#!/usr/bin/env python3
"""mailpipe on Apache Spark: a tenant's contact store, re-partitioned by the mailpipe shard hash,
through mailpipe executables on every partition (RDD.pipe), written as one output per shard.

    spark-submit pipelines/spark/mailpipe_job.py --state /srv/mailpipe/state --tenant sos-expat \
        --shards 8 --bin /srv/mailpipe/bin --output /srv/out/sos-expat-fr \
        --command 'validate | segment --all lang-fr'
    python3 pipelines/spark/mailpipe_job.py …  --master local[2]          # same job, one machine

What it does (docs/scale-out.md has the why):
 1. reads the store's manifests (contacts/layout.json, contacts/[shard-*-of-*/]manifest.json) for
    the live runs and their order, and each run `run-*.ndjson.gz` directly — plain gzip NDJSON;
 2. keys every line by its normalised email; where a contact is in several runs of its store the
    newest run's line wins (reduceByKey on the run rank) — exactly what `account export` yields;
 3. partitions by FNV-1a 64(email) % shards (mailpipe_shard.py, the same hash as EmailKey.hash)
    and sorts each partition by email, so partition i holds what `account export --shard i/n`
    writes, in the same order;
 4. pipes each partition through COMMAND (`bash -o pipefail -c COMMAND`, PATH = --bin first,
    MAILPIPE_STATE = --state; `{shard}` in COMMAND becomes the partition's i/n via MAILPIPE_SHARD);
 5. writes OUTPUT/shard-<i>-of-<n>.ndjson and OUTPUT/counts.json (records in and out per shard).

The master URL is the only difference between a test run (local[2]) and a cluster.
"""
import argparse
import json
import os
import shlex
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mailpipe_shard  # noqa: E402  (shipped to executors with addPyFile below)

DEFAULT_COMMAND = "validate | segment --tenant {tenant}"


def store_runs(contacts):
    """[(path, store_index, rank)] of the live runs, oldest first within each (sub-)store."""
    layout_path = os.path.join(contacts, "layout.json")
    if os.path.exists(layout_path):
        with open(layout_path) as f:
            n = json.load(f)["shards"]
        stores = [os.path.join(contacts, f"shard-{i}-of-{n}") for i in range(n)]
    else:
        n, stores = None, [contacts]
    runs = []
    for s, store in enumerate(stores):
        manifest = os.path.join(store, "manifest.json")
        if not os.path.exists(manifest):
            if n is not None:
                raise SystemExit(f"mailpipe_job: {manifest} is missing (a reshard ran meanwhile?): run again")
            continue
        with open(manifest) as f:
            for rank, run in enumerate(json.load(f)["runs"]):
                runs.append((os.path.join(store, run["name"] + ".ndjson.gz"), s, rank))
    return n, runs


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--state", default=os.environ.get("MAILPIPE_STATE", "state"), help="state root (a path every executor sees)")
    p.add_argument("--tenant", required=True)
    p.add_argument("--shards", type=int, help="partitions = shards (default: the store's shard count, else 2)")
    p.add_argument("--command", default=DEFAULT_COMMAND, help=f"shell pipeline run on each partition (default: {DEFAULT_COMMAND!r})")
    p.add_argument("--bin", help="folder of the mailpipe executables on every executor (shared path, or ./NAME of an --archives upload)")
    p.add_argument("--output", required=True, help="output folder (created; must not hold shard files)")
    p.add_argument("--master", default=os.environ.get("MAILPIPE_SPARK_MASTER"), help="Spark master URL (default: spark-submit's, else local[2])")
    args = p.parse_args(argv)

    from pyspark import SparkConf, SparkContext, StorageLevel

    contacts = os.path.join(args.state, args.tenant, "contacts")
    if not os.path.exists(os.path.join(args.state, args.tenant, "tenant.json")):
        raise SystemExit(f"mailpipe_job: tenant '{args.tenant}' has no state at {os.path.join(args.state, args.tenant)}")
    store_shards, runs = store_runs(contacts)
    n = args.shards or store_shards or 2
    command = args.command.replace("{tenant}", args.tenant)

    conf = SparkConf().setAppName(f"mailpipe {args.tenant}: {command}").set("spark.ui.showConsoleProgress", "false")
    if args.master:
        conf = conf.setMaster(args.master)
    elif not conf.contains("spark.master"):
        conf = conf.setMaster("local[2]")
    sc = SparkContext.getOrCreate(conf)
    sc.setLogLevel("WARN")
    sc.addPyFile(mailpipe_shard.__file__)

    def keyed(rank):
        def f(line):
            key = mailpipe_shard.line_key(line)
            if key is None:
                raise ValueError(f"contact store line without an email: {line[:200]}")
            return key, (rank, line)
        return f

    if runs:
        # textFile inflates gzip (all members) on the executors; a run file is one partition.
        data = sc.union([sc.textFile(path).map(keyed(rank)) for path, _, rank in runs])
    else:
        data = sc.parallelize([], 1)
    partition = lambda key: mailpipe_shard.fnv1a64(key)  # Spark takes it modulo n
    stores = {}
    for _, s, _ in runs:
        stores[s] = stores.get(s, 0) + 1
    if any(count > 1 for count in stores.values()):
        # Newest run wins (ranks compare within a store; a key lives in one store).
        data = data.reduceByKey(lambda a, b: a if a[0] >= b[0] else b)
    ordered = data.repartitionAndSortWithinPartitions(n, partition)

    records_in = [sc.accumulator(0) for _ in range(n)]

    def lines_of(index, items):
        count = 0
        for _, (_, line) in items:
            count += 1
            yield line
        records_in[index].add(count)

    env = {
        "PATH": (args.bin + ":" if args.bin else "") + os.environ.get("MAILPIPE_EXECUTOR_PATH", "/usr/local/bin:/usr/bin:/bin"),
        "MAILPIPE_STATE": args.state,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
    }
    if "{shard}" in command:
        # pipe() gives no partition index: a first line carries it, and the shell reads it off.
        shell = "bash -c " + shlex.quote(
            "set -o pipefail; IFS= read -r MAILPIPE_SHARD; export MAILPIPE_SHARD; "
            + command.replace("{shard}", "$MAILPIPE_SHARD"))

        def lines_with_shard(index, items):
            yield f"{index}/{n}"
            yield from lines_of(index, items)
        feed = ordered.mapPartitionsWithIndex(lines_with_shard, preservesPartitioning=True)
    else:
        shell = "bash -c " + shlex.quote("set -o pipefail; " + command)
        feed = ordered.mapPartitionsWithIndex(lines_of, preservesPartitioning=True)

    # Kept for the two passes below (counts, then the files). DISK_ONLY streams a partition to disk;
    # MEMORY_AND_DISK first builds the whole partition on the heap (a 10 M store: out of memory).
    piped = feed.pipe(shell, env=env, checkCode=True).persist(StorageLevel.DISK_ONLY)
    out_counts = dict(piped.mapPartitionsWithIndex(lambda i, it: [(i, sum(1 for _ in it))]).collect())

    os.makedirs(args.output, exist_ok=True)
    staging = os.path.join(args.output, ".parts")
    shutil.rmtree(staging, ignore_errors=True)
    piped.saveAsTextFile(staging)
    for i in range(n):
        part = os.path.join(staging, f"part-{i:05d}")
        os.replace(part, os.path.join(args.output, f"shard-{i}-of-{n}.ndjson"))
    shutil.rmtree(staging, ignore_errors=True)

    counts = {
        "tenant": args.tenant,
        "command": command,
        "shards": n,
        "runs_read": len(runs),
        "in": sum(a.value for a in records_in),
        "out": sum(out_counts.values()),
        "per_shard": [{"shard": f"{i}/{n}", "in": records_in[i].value, "out": out_counts.get(i, 0)} for i in range(n)],
    }
    with open(os.path.join(args.output, "counts.json"), "w") as f:
        json.dump(counts, f, indent=2)
        f.write("\n")
    sys.stderr.write(f"mailpipe_job: {counts['in']} in, {counts['out']} out, {n} shards -> {args.output}\n")
    sc.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
