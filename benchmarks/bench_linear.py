"""AnalogLinear against nn.Linear, measured in the same run, per preset.

For each layer size (square) and batch size: forward, forward + backward, and a full training step
(forward, backward, optimizer step: AnalogSGD for analog layers, torch.optim.SGD for nn.Linear), as
ratios to nn.Linear. Also the device state each preset keeps per weight (bytes).

Targets (issue 4): ideal <= 1.05x; hardware_aware <= 1.3x; ambrogio2018 step <= 1.5x at batch >= 64
and <= 3x at batch 1; <= 16 bytes of device state per weight.

    python benchmarks/bench_linear.py [--sizes 256 1024 4096] [--batches 1 64 512] [--repeats 5]
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

import analogtorch
from analogtorch import AnalogLinear, presets
from analogtorch.optim import AnalogSGD
from timing import median_seconds  # benchmarks/timing.py

PRESETS = {
    "ideal": presets.ideal,
    "hardware_aware": presets.hardware_aware,
    "ambrogio2018": presets.ambrogio2018,
    "pcm_only": presets.pcm_only,
}


def timings(layer: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, repeats: int) -> dict[str, float]:
    def forward():
        with torch.no_grad():
            layer(x)

    def forward_backward():
        layer(x).sum().backward()

    def step():
        optimizer.zero_grad(set_to_none=True)
        layer(x).sum().backward()
        optimizer.step()

    return {name: median_seconds(fn, repeats) for name, fn in
            (("forward", forward), ("fwd+bwd", forward_backward), ("step", step))}  # fmt: skip


def state_bytes_per_weight(layer: nn.Module) -> float:
    if not isinstance(layer, AnalogLinear) or layer.config.mode in ("ideal", "hardware_aware"):
        return 0.0
    names = ("g_plus_us", "g_minus_us", "v_c", "variation")
    total = sum(getattr(layer, n).numel() * getattr(layer, n).element_size() for n in names if hasattr(layer, n))
    return total / layer.weight.numel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64, 512])
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"analogtorch {analogtorch.__version__}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"median of {args.repeats}; ratios to nn.Linear (+ torch.optim.SGD) in the same run")  # fmt: skip
    header = f"{'preset':<16}{'size':>6}{'batch':>7}{'forward':>10}{'fwd+bwd':>10}{'step':>10}{'state B/w':>11}"
    print(header)
    print("-" * len(header))
    for size in args.sizes:
        torch.manual_seed(0)
        reference = nn.Linear(size, size)
        reference_optimizer = torch.optim.SGD(reference.parameters(), lr=1e-3)
        layers = {name: AnalogLinear(size, size, config=PRESETS[name]()) for name in args.presets}
        for batch in args.batches:
            x = torch.rand(batch, size)
            base = timings(reference, reference_optimizer, x, args.repeats)
            for name, layer in layers.items():
                measured = timings(layer, AnalogSGD(layer.parameters(), lr=1e-3), x, args.repeats)
                ratios = [measured[k] / base[k] for k in ("forward", "fwd+bwd", "step")]
                print(f"{name:<16}{size:>6}{batch:>7}" + "".join(f"{r:>10.2f}" for r in ratios)
                      + f"{state_bytes_per_weight(layer):>11.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
