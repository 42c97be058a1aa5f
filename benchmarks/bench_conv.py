"""AnalogConv2d against nn.Conv2d, measured in the same run, per preset.

A 3x3 convolution (padding 1) of ``channels`` in and out channels on 28x28 images: forward, forward
+ backward and a training step (AnalogSGD for the analog layer, torch.optim.SGD for nn.Conv2d), as
ratios to nn.Conv2d. The analog layer reads every patch through its arrays (im2col), so its cost
follows the reads: batch x 784 vectors of channels x 9 inputs.

    python benchmarks/bench_conv.py [--channels 16 64] [--batches 1 32] [--repeats 5]
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

import analogtorch
from analogtorch import AnalogConv2d
from bench_linear import PRESETS, timings  # benchmarks/bench_linear.py


def make_layer(name: str, channels: int, device: str = "cpu") -> nn.Module:
    if name == "deployed":
        layer = AnalogConv2d(channels, channels, 3, padding=1, config=analogtorch.presets.hardware_aware(), device=device).eval()
        analogtorch.program(layer)
        analogtorch.set_time(layer, 86400.0)
        return layer
    return AnalogConv2d(channels, channels, 3, padding=1, config=PRESETS[name](), device=device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    choices = [*PRESETS, "deployed"]
    parser.add_argument("--presets", nargs="+", default=choices, choices=choices)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (timed with torch.utils.benchmark: synchronised)")
    args = parser.parse_args()
    where = f"{torch.get_num_threads()} threads" if args.device == "cpu" else args.device
    print(f"analogtorch {analogtorch.__version__}, torch {torch.__version__}, {where}, "
          f"median of {args.repeats}; ratios to nn.Conv2d (+ torch.optim.SGD) in the same run")  # fmt: skip
    header = f"{'preset':<16}{'channels':>9}{'batch':>7}{'forward':>10}{'fwd+bwd':>10}{'step':>10}"
    print(header)
    print("-" * len(header))
    for channels in args.channels:
        torch.manual_seed(0)
        reference = nn.Conv2d(channels, channels, 3, padding=1, device=args.device)
        layers = {name: make_layer(name, channels, args.device) for name in args.presets}
        for batch in args.batches:
            x = torch.rand(batch, channels, 28, 28, device=args.device)
            # A per-pixel classification of random labels: mixed-sign gradients, as in training.
            labels = torch.randint(channels, (batch, 28, 28), device=args.device)
            base = timings(reference, x, labels, args.repeats)
            for name, layer in layers.items():
                measured = timings(layer, x, labels, args.repeats)
                ratios = [f"{measured[k] / base[k]:>10.2f}" if k in measured else f"{'-':>10}"
                          for k in ("forward", "fwd+bwd", "step")]  # fmt: skip
                print(f"{name:<16}{channels:>9}{batch:>7}" + "".join(ratios))


if __name__ == "__main__":
    main()
