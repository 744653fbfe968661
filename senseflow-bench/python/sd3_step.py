"""Training-step speed of the shared SD3 transformer: PyTorch (this process, sd3_mmdit.py) against TensorFlow
(Sd3TransformerStepBenchmark in senseflow-tf, a Maven-run JVM), alternated round by round, never concurrent.

First proves the PyTorch model is the exported architecture: its output on the fixture's recorded first denoiser call
must match ``transformer/out/out_hidden_states`` of ``reference/ref.safetensors`` within 1e-4 (max abs). Then, per
round: the JVM times K steps (it waits on a file handshake), then this process times K steps. One step on both
sides: zero gradients, forward, MSE upstream / loss, backward, AdamW (lr 1e-4, no weight decay, no clipping), batch 4
of 16x8x8 latents with 101 text tokens, 2 intra-op threads, 1 inter-op thread.

Usage (from the repository root; TensorFlow settings of the JVM as options):
    python3 senseflow-bench/python/sd3_step.py --rounds 8 --steps 10 [--xla] [--onednn] [--profile]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from safetensors.numpy import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sd3_mmdit  # noqa: E402

FIX = "senseflow-fixtures/src/main/resources/fixtures/optimum-exports/sd3"
BATCH, TOKENS = 4, 101


def check_reference(model):
    d = load_file(os.path.join(FIX, "reference/ref.safetensors"))
    names = ["hidden_states", "encoder_hidden_states", "pooled_projections", "timestep"]
    args = [torch.from_numpy(np.array(d["transformer/in/" + n])) for n in names]
    with torch.no_grad():
        y = model(*args).numpy()
    want = d["transformer/out/out_hidden_states"]
    err = float(np.abs(y - want).max())
    print(f"reference check: max |torch - ref| = {err:.3g} (max |ref| {float(np.abs(want).max()):.3g}), "
          f"shape {tuple(y.shape)}")
    if not err <= 1e-4:
        sys.exit("the PyTorch model does not reproduce the fixture's transformer output")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--xla", action="store_true", help="JVM: global_jit_level ON_1 + TF_XLA_FLAGS cpu global jit")
    ap.add_argument("--onednn", action="store_true", help="JVM: TF_ENABLE_ONEDNN_OPTS=1 (allowed explicitly)")
    ap.add_argument("--profile", action="store_true", help="JVM: after the rounds, a traced step's top ops")
    ap.add_argument("--torch-threads", type=int, default=2, help="PyTorch intra-op threads")
    ap.add_argument("--tf-threads", type=int, default=2, help="TensorFlow intra-op threads")
    ap.add_argument("--log", default=None, help="where the JVM's output goes (default: a temp file)")
    a = ap.parse_args()

    torch.set_num_threads(a.torch_threads)
    torch.set_num_interop_threads(1)
    model = sd3_mmdit.load(os.path.join(FIX, "onnx/transformer"))
    check_reference(model)
    g = torch.Generator().manual_seed(7)
    x = torch.randn(BATCH, 16, 8, 8, generator=g)
    ctx = torch.randn(BATCH, TOKENS, 80, generator=g)
    pooled = torch.randn(BATCH, 64, generator=g)
    t = torch.tensor([900.0, 600.0, 350.0, 100.0])
    target = torch.randn(BATCH, 16, 8, 8, generator=g)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"{sum(p.numel() for p in model.parameters()):,} parameters")

    def step():
        s = time.perf_counter_ns()
        opt.zero_grad(set_to_none=True)
        loss = torch.mean((model(x, ctx, pooled, t) - target) ** 2)
        loss.backward()
        opt.step()
        return time.perf_counter_ns() - s

    for _ in range(5):
        step()

    hand = tempfile.mkdtemp(prefix="sd3bench-")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    props = [f"-Dsd3bench.dir={hand}", f"-Dsd3bench.threads={a.tf_threads}"]
    if a.onednn:
        props += ["-Dtf.onednn.opts=1", "-Dsenseflow.tf.allowOneDnn=true"]
    else:
        props += ["-Dtf.onednn.opts=0"]
    env["TF_ENABLE_ONEDNN_OPTS"] = "1" if a.onednn else "0"
    if a.xla:
        props.append("-Dsd3bench.xla=true")
        env["TF_XLA_FLAGS"] = "--tf_xla_cpu_global_jit"
    if a.profile:
        props.append("-Dsd3bench.profile=true")
    cmd = ["mvn", "-B", "-o", "-q", "-pl", "senseflow-tf", "-am", "test", "-Dtest=Sd3TransformerStepBenchmark",
           "-Dexcluded.groups=", "-Dgroups=experiment", "-Dsurefire.failIfNoSpecifiedTests=false"] + props
    log_path = a.log or os.path.join(hand, "java.log")
    log = open(log_path, "w")
    jvm = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)

    def wait_for(path):
        while not os.path.exists(path):
            if jvm.poll() is not None:
                sys.exit(f"the JVM ended ({jvm.returncode}) before {path}; see {log_path}")
            time.sleep(0.02)

    wait_for(os.path.join(hand, "java-ready"))
    jt, pt = [], []
    for r in range(a.rounds):
        load = os.getloadavg()[0]
        with open(os.path.join(hand, f"go-{r}.tmp"), "w") as f:
            f.write(str(a.steps))
        os.rename(os.path.join(hand, f"go-{r}.tmp"), os.path.join(hand, f"go-{r}"))
        wait_for(os.path.join(hand, f"java-{r}.txt"))
        with open(os.path.join(hand, f"java-{r}.txt")) as f:
            j = [int(v) / 1e6 for v in f.read().split()]
        p = [step() / 1e6 for _ in range(a.steps)]
        jt += j
        pt += p
        print(f"round {r}: load {load:.2f}  TF median {statistics.median(j):7.2f} ms (min {min(j):6.2f})  PyTorch median "
              f"{statistics.median(p):7.2f} ms (min {min(p):6.2f})", flush=True)
    with open(os.path.join(hand, f"go-{a.rounds}"), "w") as f:
        f.write("quit")
    jvm.wait()
    log.close()
    print(f"all rounds ({a.rounds} x {a.steps} steps each): TF median {statistics.median(jt):.2f} ms, PyTorch median "
          f"{statistics.median(pt):.2f} ms, TF / PyTorch {statistics.median(jt) / statistics.median(pt):.2f}; minima TF "
          f"{min(jt):.2f} ms, PyTorch {min(pt):.2f} ms")
    with open(log_path) as f:
        for line in f:
            if not line.startswith("[") and line.strip() and "absl" not in line:
                print("JVM: " + line.rstrip())


if __name__ == "__main__":
    main()
