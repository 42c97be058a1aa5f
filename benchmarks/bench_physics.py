"""Time of every physics op on the CPU, as a ratio to torch.addcmul over the same tensors.

The element ops are memory-bound: addcmul (3 float32 reads, 1 write per element) is the yardstick
of what one pass over the data costs on this machine. Target: <= 3x for the per-step ops.

    python benchmarks/bench_physics.py [--sizes 1000000 16000000] [--repeats 5] [--threads N]
"""

from __future__ import annotations

import argparse

import torch

import analogtorch
from analogtorch import ops
from analogtorch.config import Capacitor3T1C, PCMDevice
from timing import median_seconds  # benchmarks/timing.py


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 16_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    capacitor, pcm, open_loop = Capacitor3T1C(), PCMDevice(), PCMDevice(programming="open_loop")

    print(f"analogtorch {analogtorch.__version__}, torch {torch.__version__}, {args.threads} threads, "
          f"median of {args.repeats}")
    for n in args.sizes:
        generator = torch.Generator().manual_seed(0)
        rng = analogtorch.make_rng_state(1)
        g_plus = torch.rand(n, generator=generator) * 10
        g_minus = torch.rand(n, generator=generator) * 10
        nu = torch.rand(n, generator=generator) * 0.1
        v_c = 0.3 + 0.6 * torch.rand(n, generator=generator)
        delta = (torch.rand(n, generator=generator) - 0.5) * 0.1  # ~ +-1.4 pulses
        x = torch.randn(n, generator=generator)
        variation = ops.cell_variation(rng, (n,))
        weight = torch.empty(n)
        out = torch.empty(n)
        small = torch.rand(min(n, 1_000_000), generator=generator) * 12
        weights_us = g_plus - g_minus

        cases = {
            "torch.addcmul (yardstick)": lambda: torch.addcmul(g_plus, g_minus, nu, out=out),
            "pcm_read": lambda: ops.pcm_read(g_plus, nu, rng, 86400.0),
            "pcm_read (no read noise)": lambda: ops.pcm_read(g_plus, nu, rng, 86400.0, read_noise=False),
            "pcm_read_moments": lambda: ops.pcm_read_moments(g_plus, nu, 86400.0),
            "add_read_noise": lambda: ops.add_read_noise(g_plus, nu, rng),
            "hardware_aware_read open loop": lambda: ops.hardware_aware_read(weights_us, rng, open_loop),
            "pcm_program open loop": lambda: ops.pcm_program(g_plus, rng, open_loop),
            "cell_variation": lambda: ops.cell_variation(rng, (n,)),
            "capacitor_update": lambda: ops.capacitor_update(v_c, variation, delta, rng, 1, capacitor),
            "capacitor_leak": lambda: ops.capacitor_leak(v_c, 64e-6),
            "capacitor_step_ (fused)": lambda: ops.capacitor_step_(
                v_c, weight, g_plus, g_minus, variation, delta, rng, 1,
                elapsed_s=64e-6, gain_f=3.0, scale_us_per_unit=30.0, capacitor=capacitor),
            "unit_cell_weight": lambda: ops.unit_cell_weight(g_plus, g_minus, v_c, variation, 1),
            "quantize (8 bit)": lambda: ops.quantize(x, rng, bits=8, bound=3.0),
            "quantize (8 bit + noise)": lambda: ops.quantize(x, rng, bits=8, bound=3.0, noise_std=0.04),
        }
        # Programming loops over pulses: timed on at most 1M cells, reported per cell.
        per_cell = {
            "pcm_program closed loop": lambda: ops.pcm_program(small, rng, pcm),
            "transfer (closed loop)": lambda: ops.transfer(
                small, small.flip(0).contiguous(), v_c[: small.numel()], variation[: small.numel()], rng, 1),
        }
        base = median_seconds(cases["torch.addcmul (yardstick)"], args.repeats)
        print(f"\n{n:,} cells")
        print(f"{'op':<32}{'time [ms]':>12}{'ns/cell':>10}{'x addcmul':>11}")
        for name, fn in cases.items():
            seconds = median_seconds(fn, args.repeats)
            print(f"{name:<32}{seconds * 1e3:>12.2f}{seconds / n * 1e9:>10.2f}{seconds / base:>11.2f}")
        for name, fn in per_cell.items():
            cells = small.numel()
            seconds = median_seconds(fn, max(1, args.repeats // 2))
            ratio = (seconds / cells) / (base / n)
            print(f"{name + f' ({cells:,})':<32}{seconds * 1e3:>12.2f}{seconds / cells * 1e9:>10.2f}{ratio:>11.2f}")


if __name__ == "__main__":
    main()
