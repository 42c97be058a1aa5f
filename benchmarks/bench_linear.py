"""AnalogLinear against nn.Linear, measured in the same run, per preset.

For each layer size (square) and batch size: forward, forward + backward, and a full training step
(forward, backward, optimizer step: AnalogSGD for analog layers, torch.optim.SGD for nn.Linear), as
ratios to nn.Linear. The loss is cross-entropy on fixed random labels with the main job's learning
rate, so that gradients have mixed signs as in real training (a sum() loss would push every weight
the same way and park the capacitors at a rail). ``hw_aware/16`` draws a fresh device every 16
forwards (``device_noise_every=16``). The row ``deployed`` is a hardware_aware layer
programmed into PCM and read a day later (inference: forward only). Also the device state each
preset keeps per weight (bytes).

Targets (issue 4): ideal <= 1.05x; hardware_aware <= 1.3x; ambrogio2018 step <= 1.5x at batch >= 64
and <= 3x at batch 1; <= 16 bytes of device state per weight.

    python benchmarks/bench_linear.py [--sizes 256 1024 4096] [--batches 1 64 512] [--repeats 5]
"""

from __future__ import annotations

import argparse

import torch
from torch import nn
from torch.nn import functional as F

import analogtorch
import analogtorch.ops
from analogtorch import AnalogLinear, presets
from analogtorch.optim import AnalogSGD
from timing import median_seconds  # benchmarks/timing.py

PRESETS = {
    "ideal": presets.ideal,
    "hardware_aware": presets.hardware_aware,
    "hw_aware/16": lambda: presets.hardware_aware(device_noise_every=16),
    "ambrogio2018": presets.ambrogio2018,
    "pcm_only": presets.pcm_only,
}


LEARNING_RATE = 0.5  # the main job's (python -m analogtorch compare)


def timings(layer: nn.Module, x: torch.Tensor, labels: torch.Tensor, repeats: int) -> dict[str, float]:
    def forward():
        with torch.no_grad():
            layer(x)

    times = {"forward": median_seconds(forward, repeats)}
    if getattr(layer, "programmed", False):
        return times  # a programmed layer only infers
    optimizer_class = AnalogSGD if isinstance(layer, analogtorch.nn.AnalogModule) else torch.optim.SGD
    optimizer = optimizer_class(layer.parameters(), lr=LEARNING_RATE)

    def forward_backward():
        F.cross_entropy(layer(x), labels).backward()

    def step():
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(layer(x), labels).backward()
        optimizer.step()

    times["fwd+bwd"] = median_seconds(forward_backward, repeats)
    times["step"] = median_seconds(step, repeats)
    return times


def make_layer(name: str, size: int, device: str = "cpu") -> AnalogLinear:
    if name == "deployed":
        layer = AnalogLinear(size, size, config=presets.hardware_aware(), device=device).eval()
        analogtorch.program(layer)
        analogtorch.set_time(layer, 86400.0)
        return layer
    return AnalogLinear(size, size, config=PRESETS[name](), device=device)


def state_bytes_per_weight(layer: nn.Module) -> float:
    """Bytes of per-weight device state (conductances, V_C, cell variation) the tiles keep."""
    if not isinstance(layer, analogtorch.nn.AnalogModule):
        return 0.0
    weights = layer.weight.numel()
    total = sum(buffer.numel() * buffer.element_size() for tiles in layer.tiles.values() for tile in tiles
                for name, buffer in tile.named_buffers() if buffer.numel() >= weights // len(tiles) and name != "noise_variance"
                and name != "noise_deviation")  # fmt: skip
    return total / weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64, 512])
    choices = [*PRESETS, "deployed"]
    parser.add_argument("--presets", nargs="+", default=choices, choices=choices)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (timed with torch.utils.benchmark: synchronised)")
    args = parser.parse_args()
    where = f"{torch.get_num_threads()} threads" if args.device == "cpu" else args.device
    print(f"analogtorch {analogtorch.__version__}, torch {torch.__version__}, {where}, CPU kernels: "
          f"{analogtorch.ops.cpu_capability()}, median of {args.repeats}; ratios to nn.Linear (+ torch.optim.SGD) in the same run")  # fmt: skip
    header = f"{'preset':<16}{'size':>6}{'batch':>7}{'forward':>10}{'fwd+bwd':>10}{'step':>10}{'state B/w':>11}"
    print(header)
    print("-" * len(header))
    for size in args.sizes:
        torch.manual_seed(0)
        reference = nn.Linear(size, size, device=args.device)
        layers = {name: make_layer(name, size, args.device) for name in args.presets}
        for batch in args.batches:
            x = torch.rand(batch, size, device=args.device)
            labels = torch.randint(size, (batch,), device=args.device)
            base = timings(reference, x, labels, args.repeats)
            for name, layer in layers.items():
                measured = timings(layer, x, labels, args.repeats)
                ratios = [f"{measured[k] / base[k]:>10.2f}" if k in measured else f"{'-':>10}"
                          for k in ("forward", "fwd+bwd", "step")]  # fmt: skip
                print(f"{name:<16}{size:>6}{batch:>7}" + "".join(ratios) + f"{state_bytes_per_weight(layer):>11.1f}")


if __name__ == "__main__":
    main()
