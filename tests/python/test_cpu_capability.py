"""The CPU element loops are compiled per instruction set (baseline, AVX2, AVX-512; csrc/cpu/backend.h)
and the widest the CPU supports runs. Every choice must give the same bits: each capability this
machine supports runs the same ops and training steps of every preset in its own process
(ANALOGTORCH_CPU_CAPABILITY), and the digests of every output and every state tensor agree."""

from __future__ import annotations

import os
import subprocess
import sys

from analogtorch import ops

# Odd sizes: the vector body and the scalar remainder of every loop both run.
WORKLOAD = r"""
import hashlib
import torch
import analogtorch
from analogtorch import AnalogConv2d, AnalogLinear, ops, presets
from analogtorch.config import PCMDevice
from analogtorch.optim import AnalogSGD

digest = hashlib.sha256()
def add(value):
    if isinstance(value, torch.Tensor):
        digest.update(value.detach().contiguous().numpy().tobytes())
    elif isinstance(value, dict):
        for key in sorted(value):
            add(value[key])
    else:
        digest.update(repr(value).encode())

torch.manual_seed(0)
rng = analogtorch.make_rng_state(7, 3)
target = torch.rand(1001) * 20.0
for pcm in (PCMDevice(), PCMDevice(programming="open_loop")):
    programmed = ops.pcm_program(target, rng, pcm)
    for tensor in (programmed.conductance_us, programmed.drift_nu, programmed.pulses):
        add(tensor)
    add(ops.pcm_read(programmed.conductance_us, programmed.drift_nu, rng, 86400.0))
    for tensor in ops.hardware_aware_read(target - 10.0, rng, pcm, time_min_s=1.0, time_max_s=3.15e7):
        add(tensor)
add(ops.add_read_noise(target, target * 0.01, rng))
add(ops.quantize(target - 10.0, rng, bits=8, bound=12.0, noise_std=0.02))

presets_to_train = {
    "hardware_aware": presets.hardware_aware,
    "hardware_aware_noise_every_2": lambda: presets.hardware_aware(device_noise_every=2),
    "ambrogio2018_transfers": lambda: presets.ambrogio2018(transfer_every=10),
    "pcm_only": presets.pcm_only,
}
for name, make in presets_to_train.items():
    torch.manual_seed(1)
    model = torch.nn.Sequential(AnalogConv2d(1, 3, 3, config=make()), torch.nn.Flatten(),
                                AnalogLinear(3 * 7 * 7, 11, config=make()))
    optimizer = AnalogSGD(model.parameters(), lr=0.5)
    x, labels = torch.rand(6, 1, 9, 9), torch.randint(11, (6,))
    for _ in range(3):
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), labels).backward()
        optimizer.step()
    model.eval()
    add(model(x))
    analogtorch.program(model)
    analogtorch.set_time(model, 86400.0)
    add(model(x))
    for tensor in model.state_dict().values():
        add(tensor)
print(ops.cpu_capability(), digest.hexdigest())
"""


def run_with(capability: str | None, code: str = WORKLOAD) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("ANALOGTORCH_CPU_CAPABILITY", None)
    if capability is not None:
        env["ANALOGTORCH_CPU_CAPABILITY"] = capability
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)


def test_every_supported_instruction_set_gives_the_same_bits():
    widest = run_with(None)
    assert widest.returncode == 0, widest.stderr
    best, reference = widest.stdout.split()
    order = ["default", "avx2", "avx512"]
    assert best in order
    for capability in order[: order.index(best)]:
        result = run_with(capability)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == [capability, reference], f"{capability} differs from {best}"


def test_a_capability_the_cpu_lacks_or_an_unknown_name_is_refused():
    assert ops.cpu_capability() in ("default", "avx2", "avx512")
    probe = "from analogtorch import ops\ntry:\n    ops.cpu_capability()\nexcept ValueError as error:\n    print(error)\n"
    unknown = run_with("sse9", probe)
    assert "ANALOGTORCH_CPU_CAPABILITY: expected default, avx2 or avx512, got 'sse9'" in unknown.stdout
    # An op refuses too, with the same message, rather than running another instruction set.
    op_probe = ("import torch, analogtorch\nfrom analogtorch import ops\ntry:\n"
                "    ops.quantize(torch.ones(3), analogtorch.make_rng_state(0))\n"
                "except RuntimeError as error:\n    print(error)\n")  # fmt: skip
    assert "expected default, avx2 or avx512" in run_with("sse9", op_probe).stdout
    if ops.cpu_capability() != "avx512" and os.environ.get("ANALOGTORCH_CPU_CAPABILITY") is None:
        lacking = run_with("avx512", probe)
        assert "this CPU supports at most" in lacking.stdout


def test_the_baseline_can_always_be_chosen():
    result = run_with("default", "from analogtorch import ops\nprint(ops.cpu_capability())")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "default"
