#!/bin/sh
# LoRA (rank 8, 16, 32) vs full SenseFlow distillation of the bundled Shapes teacher at one budget (docs/distillation.md,
# "LoRA"). Usage: docs/lora-runs/shapes-lora-vs-full.sh SENSEFLOW_HOME OUT ITERATIONS
# SENSEFLOW_HOME is a laid-out CLI (senseflow-examples/target/senseflow after `mvn -B -o -q package -DskipTests`).
# The four runs go in parallel, each on one thread, at nice 15 (the machine is shared); each run's stdout (the final
# evaluation: FD-T, FD-data, adherence), stderr and /usr/bin/time -v report (peak RSS) land in OUT/<name>.*
set -eu
home=$1
out=$2
iters=$3
teacher=$(cd "$(dirname "$0")/../.." && pwd)/senseflow-examples/src/main/resources/io/senseflow/examples/shapes/models/teacher
mkdir -p "$out"
run() {
    name=$1
    shift
    nice -n 15 /usr/bin/time -v -o "$out/$name.time" "$home/bin/senseflow" distill --teacher "$teacher" \
        --preset senseflow --iterations "$iters" --threads 1 --eval-every 0 --track-every 0 --quiet \
        --out "$out/$name" "$@" > "$out/$name.out" 2> "$out/$name.err"
}
run full &
run lora8 --lora-rank 8 &
run lora16 --lora-rank 16 &
run lora32 --lora-rank 32 &
wait
uptime > "$out/load.txt"
