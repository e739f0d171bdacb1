#!/usr/bin/env bash
# start-spark-cluster.sh DIR [WORKERS]
# Starts a Spark standalone cluster on 127.0.0.1: one master and WORKERS workers (default 2),
# each worker with 1 core and 1 GB, from the launcher classes of the `pyspark` package (no Spark
# download: SPARK_HOME is the package's folder) on Java 17. Waits until every worker has
# registered with the master and prints the master URL (spark://127.0.0.1:PORT).
# DIR receives: port, master.pid, master.log, worker-<k>.pid, worker-<k>.log and worker-<k>/
# (each worker's work folder: one folder per application and executor, with the executor's
# stdout and stderr — where a job's tasks write their log lines).
# SPARK_WORKER_PIN=1 confines worker k (and the executors and task processes it starts) to CPU
# (k-1) mod nproc with taskset: one core per worker, as on separate machines (bench/spark.sh).
# Needs java and pyspark (scripts/install-deps --test installs openjdk-17-jre-headless and pyspark).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

[[ $# -ge 1 ]] || die "usage: $0 DIR [WORKERS]"
dir=$(abs_dir "$1")
workers=${2:-2}
[[ $workers =~ ^[1-9][0-9]*$ ]] || die "WORKERS must be a positive count, got '$workers'"
command -v java >/dev/null || die "java is missing: scripts/install-deps --test (openjdk-17-jre-headless)"
SPARK_HOME=$(python3 -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))' 2>/dev/null) \
  || die "pyspark is missing: scripts/install-deps --test (pip install pyspark)"
export SPARK_HOME SPARK_LOCAL_IP=127.0.0.1 SPARK_NO_DAEMONIZE=1
if [[ -f $dir/master.pid ]] && pid_alive "$(tr -dc 0-9 <"$dir/master.pid")"; then
  die "a cluster is already running from $dir (stop-spark-cluster.sh $dir)"
fi
rm -f "$dir/port"

# start NAME [taskset -c CPU] CLASS ARGS…: one JVM in its own session (its executors stay in its
# process group).
start() {
  local name=$1 pin=(); shift
  [[ $1 == taskset ]] && { pin=("$1" "$2" "$3"); shift 3; }
  setsid "${pin[@]}" "$SPARK_HOME/bin/spark-class" "$@" </dev/null >"$dir/$name.log" 2>&1 &
  echo $! >"$dir/$name.pid"
}
started=0
fail_start() {
  "$here/stop-spark-cluster.sh" "$dir" >/dev/null 2>&1 || true
  die "$1: $(tail -n 5 "$dir/$2.log" 2>/dev/null)"
}

port=$(free_port)
start master org.apache.spark.deploy.master.Master --host 127.0.0.1 --port "$port" --webui-port "$(free_port)"
wait_until 90 tcp_open "$port" || fail_start "the master did not start" master
for ((k = 1; k <= workers; k++)); do
  mkdir -p "$dir/worker-$k"
  pin=()
  [[ ${SPARK_WORKER_PIN:-0} == 1 ]] && pin=(taskset -c $(((k - 1) % $(nproc))))
  start "worker-$k" "${pin[@]}" org.apache.spark.deploy.worker.Worker --host 127.0.0.1 --cores 1 --memory 1g \
    --webui-port "$(free_port)" --work-dir "$dir/worker-$k" "spark://127.0.0.1:$port"
done
registered() { [[ $(grep -c "Registering worker" "$dir/master.log" 2>/dev/null) -ge $workers ]]; }
wait_until 120 registered || fail_start "not every worker registered" master
echo "$port" >"$dir/port"
echo "spark://127.0.0.1:$port"
