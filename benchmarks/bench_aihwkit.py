"""analogtorch and IBM's aihwkit side by side, each as a ratio to nn.Linear (+ torch.optim.SGD)
measured in the same process (aihwkit is optional: this benchmark needs it installed, nothing else
in analogtorch does).

The same work on both sides, as close as the two simulators allow, at one layer size and batch
sizes 1 / 64 / 512: a training step (forward, cross-entropy on fixed random labels, backward,
optimizer step at the main job's learning rate) for

- hardware-aware training: ``hardware_aware()`` against aihwkit's ``InferenceRPUConfig`` (its
  default, and with weight noise in every forward, ``WeightModifierType.ADD_NORMAL``: its PCM-like
  ``PCM_NOISE`` modifier has no CPU implementation);
- in-situ training of capacitor + PCM cells: ``ambrogio2018`` against aihwkit's Tiki-Taka with a
  capacitor and a PCM unit cell (``TransferCompound``), and its capacitor-only ``TikiTakaCapacitorPreset``;
- in-situ training of PCM pairs: ``pcm_only`` against ``PCMPreset``;

and the forward of a deployed layer (programmed, read a day later, drift compensated):
``analogtorch.program`` + ``set_time`` against aihwkit's ``drift_analog_weights(86400)``.

    pip install aihwkit   # built from source where no wheel fits (see its documentation)
    python benchmarks/bench_aihwkit.py [--size 1024] [--batches 1 64 512] [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys

import torch
from torch import nn
from torch.nn import functional as F

import analogtorch
from analogtorch import presets
from analogtorch.optim import AnalogSGD
from timing import median_seconds  # benchmarks/timing.py

LEARNING_RATE = 0.5  # the main job's


def _aihwkit():
    try:
        import aihwkit  # noqa: F401
    except ImportError:
        sys.exit("bench_aihwkit: aihwkit is not installed (pip install aihwkit); the other benchmarks do not need it")
    from aihwkit.inference import GlobalDriftCompensation, PCMLikeNoiseModel
    from aihwkit.nn import AnalogLinear
    from aihwkit.optim import AnalogSGD as AihwkitSGD
    from aihwkit.simulator.configs import InferenceRPUConfig, WeightModifierType
    from aihwkit.simulator.configs.compounds import TransferCompound
    from aihwkit.simulator.presets import PCMPreset, TikiTakaCapacitorPreset
    from aihwkit.simulator.presets.compounds import PCMPresetUnitCell
    from aihwkit.simulator.presets.devices import CapacitorPresetDevice
    from aihwkit.simulator.presets.utils import PresetUpdateParameters

    def inference(weight_noise: bool):
        config = InferenceRPUConfig()
        config.noise_model = PCMLikeNoiseModel(g_max=25.0)
        config.drift_compensation = GlobalDriftCompensation()
        if weight_noise:  # hardware-aware training with weight noise in every forward (aihwkit's
            # PCM_NOISE modifier is CUDA-only: on the CPU, Gaussian noise of 10% of the largest weight)
            config.modifier.type = WeightModifierType.ADD_NORMAL
            config.modifier.std_dev = 0.1
        return config

    def capacitor_to_pcm():
        config = TikiTakaCapacitorPreset()
        config.device = TransferCompound(
            unit_cell_devices=[CapacitorPresetDevice(), PCMPresetUnitCell()],
            transfer_forward=config.device.transfer_forward,
            transfer_update=PresetUpdateParameters(),
            units_in_mbatch=True,
        )
        return config

    configs = {
        "InferenceRPUConfig()": lambda: inference(False),
        "InferenceRPUConfig + ADD_NORMAL": lambda: inference(True),
        "Tiki-Taka capacitor -> PCM": capacitor_to_pcm,
        "TikiTakaCapacitorPreset": TikiTakaCapacitorPreset,
        "PCMPreset": PCMPreset,
    }

    def layer(name: str, size: int) -> nn.Module:
        return AnalogLinear(size, size, rpu_config=configs[name]())

    def optimizer(module: nn.Module):
        opt = AihwkitSGD(module.parameters(), lr=LEARNING_RATE)
        opt.regroup_param_groups(module)
        return opt

    def deployed(size: int) -> nn.Module:
        module = AnalogLinear(size, size, rpu_config=inference(True)).eval()
        module.drift_analog_weights(86400.0)
        return module

    return layer, optimizer, deployed


def step_seconds(module: nn.Module, optimizer, x: torch.Tensor, labels: torch.Tensor, repeats: int) -> float:
    def step():
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(module(x), labels).backward()
        optimizer.step()

    return median_seconds(step, repeats)


def forward_seconds(module: nn.Module, x: torch.Tensor, repeats: int) -> float:
    def forward():
        with torch.no_grad():
            module(x)

    return median_seconds(forward, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64, 512])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    aihwkit_layer, aihwkit_optimizer, aihwkit_deployed = _aihwkit()
    import aihwkit

    size = args.size
    print(f"analogtorch {analogtorch.__version__}, aihwkit {aihwkit.__version__}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {size}x{size}, median of {args.repeats}; ratios to nn.Linear (+ SGD)")  # fmt: skip
    ours = {
        "hardware_aware()": lambda: analogtorch.AnalogLinear(size, size, config=presets.hardware_aware()),
        "ambrogio2018()": lambda: analogtorch.AnalogLinear(size, size, config=presets.ambrogio2018()),
        "pcm_only()": lambda: analogtorch.AnalogLinear(size, size, config=presets.pcm_only()),
    }
    rows = [  # (what, analogtorch's, aihwkit's)
        ("hardware-aware training step", "hardware_aware()", "InferenceRPUConfig()"),
        ("hardware-aware training step", None, "InferenceRPUConfig + ADD_NORMAL"),
        ("in-situ capacitor + PCM step", "ambrogio2018()", "Tiki-Taka capacitor -> PCM"),
        ("in-situ capacitor only step", None, "TikiTakaCapacitorPreset"),
        ("in-situ PCM pair step", "pcm_only()", "PCMPreset"),
    ]
    torch.manual_seed(0)
    reference = nn.Linear(size, size)
    reference_optimizer = torch.optim.SGD(reference.parameters(), lr=LEARNING_RATE)
    ours_deployed = analogtorch.AnalogLinear(size, size, config=presets.hardware_aware()).eval()
    analogtorch.program(ours_deployed)
    analogtorch.set_time(ours_deployed, 86400.0)
    theirs_deployed = aihwkit_deployed(size)
    header = f"{'configuration':<34}{'analogtorch':>22}{'aihwkit':>34}"
    print(header)
    print("-" * len(header))
    for batch in args.batches:
        x = torch.rand(batch, size)
        labels = torch.randint(size, (batch,))
        base_step = step_seconds(reference, reference_optimizer, x, labels, args.repeats)
        base_forward = forward_seconds(reference, x, args.repeats)
        print(f"batch {batch}: nn.Linear step {base_step * 1e3:.3f} ms, forward {base_forward * 1e3:.3f} ms")
        for what, our_name, their_name in rows:
            ratio = "-"
            if our_name is not None:
                module = ours[our_name]()
                ratio = f"{step_seconds(module, AnalogSGD(module.parameters(), lr=LEARNING_RATE), x, labels, args.repeats) / base_step:.1f}x"
            module = aihwkit_layer(their_name, size)
            theirs = step_seconds(module, aihwkit_optimizer(module), x, labels, args.repeats) / base_step
            print(f"  {what:<32}{our_name or '':>16} {ratio:>6}{their_name:>32} {theirs:>5.1f}x")
        ours_forward = forward_seconds(ours_deployed, x, args.repeats) / base_forward
        theirs_forward = forward_seconds(theirs_deployed, x, args.repeats) / base_forward
        print(f"  {'deployed forward, 1 day':<32}{'program + set_time':>16} {ours_forward:>5.1f}x"
              f"{'drift_analog_weights':>32} {theirs_forward:>5.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
