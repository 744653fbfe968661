"""Writes torch_noise.json: float32 bits of torch.randn on CPU generators, for TorchNoiseTest.

Run with the local wheels (torch 2.13.0+cpu, as the optimum-exports fixtures were made):
    python make_torch_noise.py            -> torch_noise.json (the kernel torch picks: AVX-512 on the build machine)
    python make_torch_noise.py default    -> torch_noise_scalar.json (ATEN_CPU_CAPABILITY=default, the scalar kernel)
    python make_torch_noise.py avx2       -> torch_noise_avx2.json (not checked in: identical to torch_noise.json)
The argument is passed as ATEN_CPU_CAPABILITY before torch is imported.

Each case is one fresh torch.Generator("cpu").manual_seed(seed) and a list of successive torch.randn calls on it
(a later call sees the generator state the earlier ones left, including torch's cached second Box-Muller value
of the small-tensor path). Values are stored as the int32 bit patterns of the float32 results.
"""
import json
import os
import sys

if len(sys.argv) > 1:
    os.environ["ATEN_CPU_CAPABILITY"] = sys.argv[1]

import torch  # noqa: E402

CASES = [
    # (seed, [shape, shape, ...])
    (4321, [[1, 16, 8, 8]]),
    (4321, [[1, 16, 12, 8]]),
    (4321, [[1, 4, 8, 8]]),
    (4321, [[1, 4, 12, 8]]),
    (0, [[1]]),
    (1, [[3]]),
    (2, [[15]]),
    (3, [[16]]),
    (4, [[17]]),
    (5, [[31]]),
    (6, [[2, 4, 9, 7]]),
    (123456789, [[5, 7, 3]]),
    (2**32 + 7, [[40]]),
    (2**63 - 1, [[33]]),
    (99, [[3], [20], [5], [1], [2]]),
    (7, [[2, 16, 8, 8], [2, 16, 8, 8]]),
]


def main():
    out = {
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cases": [],
    }
    for seed, shapes in CASES:
        g = torch.Generator("cpu").manual_seed(seed)
        draws = []
        for shape in shapes:
            t = torch.randn(shape, generator=g, dtype=torch.float32)
            bits = t.contiguous().view(torch.int32).flatten().tolist()
            draws.append({"shape": shape, "bits": bits})
        out["cases"].append({"seed": str(seed), "draws": draws})
    name = "torch_noise.json" if len(sys.argv) <= 1 else "torch_noise_scalar.json" if sys.argv[1] == "default" else "torch_noise_" + sys.argv[1] + ".json"
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), name), "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
