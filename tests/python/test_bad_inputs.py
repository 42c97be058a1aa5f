"""Every bad input tried on the public API, with the error it gets: one table, one test.

Each entry of ``BAD_INPUTS`` is a call, the exception class it must raise (exactly that class, not
a subclass) and text that the message must contain. ``scripts/count_bad_inputs.py`` counts the
entries per category for the README's Reliability section.

Categories, by what is wrong with the input:

- ``shapes``: tensor shapes and sizes (empty ones included), memory layouts (strided).
- ``dtypes``: tensor dtypes, and Python types of arguments other than configurations.
- ``devices``: tensors on another device than the op's data (meta tensors: no GPU needed), device
  strings, layers built on a device that cannot hold them.
- ``configs``: configuration objects (type, fields, cross-field rules), the parameter lists that the
  kernels take, state saved under another configuration, models in the wrong state for a call.
- ``values``: numbers out of range, NaN and Inf, options, optimizer and command-line arguments.
- ``files``: missing, truncated or malformed data files, directories and configuration files.

Reads (``pcm_read``, ``pcm_read_moments``, ``hardware_aware_read``, ``add_read_noise``,
``quantize``, and the layers' forwards through them) check no values, so that they read nothing back
from the device: NaN, Inf and values outside the physics propagate there, as in torch's own ops.
``test_reads_let_bad_values_propagate`` (at the end) tries the values they once refused.

Error classes: TypeError for a wrong Python type, ValueError for a bad value checked in Python,
RuntimeError for a check in the C++ kernels (TORCH_CHECK) or in their fake kernels. An entry that
gets another class today says why in a comment; the table records what happens, not what should.
Every entry runs in its own temporary working directory, where the ``files`` entries write.
"""

from __future__ import annotations

import copy
import dataclasses
import gzip
import json
import math
import re
import struct
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest
import torch
from torch import nn

import analogtorch
from analogtorch import AnalogLinear, ops, presets
from analogtorch._ops import (
    CAPACITOR_PARAM_FIELDS,
    PCM_PARAM_FIELDS,
    _capacitor_params,
    _pcm_params,
)
from analogtorch.apps.compare import _apply_overrides
from analogtorch.apps.data import load_idx, load_image_dataset
from analogtorch.checkpoint import load_state_dict
from analogtorch.config import Capacitor3T1C, PCMDevice, Periphery, UnitCell, replace
from analogtorch.optim import AnalogSGD
from analogtorch.presets import AnalogConfig, HardwareAwareConfig, PCMPairConfig, UnitCellConfig

CATEGORIES = ("shapes", "dtypes", "devices", "configs", "values", "files")


class BadInput(NamedTuple):
    category: str  # one of CATEGORIES
    call: Callable[[], object]
    error: type[BaseException]  # the exact class raised
    message: str  # text the message contains, matched literally


# ---------------------------------------------------------------------------------------------
# Inputs and helpers
# ---------------------------------------------------------------------------------------------

RNG = analogtorch.make_rng_state(1)
G = torch.full((8,), 5.0)  # conductances, uS
NU = torch.full((8,), 0.05)  # drift exponents
V = torch.full((8,), 0.5)  # capacitor voltages, V
D = torch.full((8,), 0.1)  # requested weight changes, uS
VAR = ops.cell_variation(RNG, (8,))
X = torch.linspace(-2, 2, 8)
PCM_PARAMS = _pcm_params(None)
CAP_PARAMS = _capacitor_params(None)
F = 3.0


def strided(n: int = 8) -> torch.Tensor:
    """A non-contiguous float32 tensor of n elements."""
    return torch.ones(2 * n)[::2]


def pcm_params_with(**fields) -> list[float]:
    """The default pcm_params list with some fields changed (bypassing PCMDevice's checks)."""
    values = list(PCM_PARAMS)
    for name, value in fields.items():
        values[PCM_PARAM_FIELDS.index(name)] = float(value)
    return values


def cap_params_with(**fields) -> list[float]:
    """The default capacitor_params list with some fields changed (bypassing Capacitor3T1C's checks)."""
    values = list(CAP_PARAMS)
    for name, value in fields.items():
        values[CAPACITOR_PARAM_FIELDS.index(name)] = float(value)
    return values


def update(v=V, var=VAR, d=D, r=RNG, polarity=1, params=CAP_PARAMS):
    return torch.ops.analogtorch.capacitor_update(v, var, d, r, polarity, params)


def step(v=None, w=None, gp=G, gm=G, var=VAR, d=D, r=RNG, polarity=1, **kwargs):
    v = V.clone() if v is None else v
    w = torch.empty(8) if w is None else w
    kwargs = {"elapsed_s": 1e-6, "gain_f": F, "scale_us_per_unit": 1.0, **kwargs}
    return ops.capacitor_step_(v, w, gp, gm, var, d, r, polarity, **kwargs)


def pair_step(gp=None, gm=None, w=None, d=None, r=RNG, **kwargs):
    gp = torch.ones(4) if gp is None else gp
    gm = torch.ones(4) if gm is None else gm
    w = torch.empty(4) if w is None else w
    d = torch.zeros(4) if d is None else d
    kwargs = {"gain_f": F, "scale_us_per_unit": 30.0, "amplitude": 0.05, "max_pulses": 15, "refresh_us": 22.5,
              **kwargs}  # fmt: skip
    return ops.pcm_pair_step_(gp, gm, w, d, r, **kwargs)


# One shared reference cell for all cells, at v_init with the nominal threshold.
V_SHARED, VAR_SHARED = torch.tensor(0.5), torch.zeros(3, dtype=torch.int8)


def weight(gp=G, gm=G, v=V, var=VAR, polarity=1, params=CAP_PARAMS, gain=F, v_shared=V_SHARED, var_shared=VAR_SHARED, scale=1.0):  # fmt: skip
    return torch.ops.analogtorch.unit_cell_weight(gp, gm, v, var, polarity, params, gain, v_shared, var_shared, scale)  # fmt: skip


def weight_backward(grad=G, v=V, var=VAR, polarity=1, params=CAP_PARAMS, gain=F, scale=1.0):  # fmt: skip
    return torch.ops.analogtorch.unit_cell_weight_backward(grad, v, var, polarity, params, gain, scale)  # fmt: skip


def transfer(gp=G, gm=G, v=V, var=VAR, r=RNG, polarity=1, next_polarity=-1, pcm_params=PCM_PARAMS,
             cap_params=CAP_PARAMS, gain=F, v_shared=V_SHARED, var_shared=VAR_SHARED, offset=2.0, time_s=0.0,
             rescale=1.0):  # fmt: skip
    return torch.ops.analogtorch.transfer(
        gp, gm, v, var, r, polarity, next_polarity, pcm_params, cap_params, gain, v_shared, var_shared, offset, time_s,
        True, True, rescale=rescale,
    )  # fmt: skip


def layer(
    config: AnalogConfig | None = None, in_features: int = 4, out_features: int = 2
) -> AnalogLinear:
    return AnalogLinear(in_features, out_features, config=config)


def model(config: AnalogConfig | None = None) -> nn.Sequential:
    return nn.Sequential(layer(config))


def programmed(config: AnalogConfig | None = None) -> nn.Sequential:
    return analogtorch.program(model(config))


def eval_forward(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return module.eval()(x)


def forward_after_a_digital_step() -> torch.Tensor:
    in_situ = layer(presets.ambrogio2018())
    in_situ(torch.rand(3, 4)).sum().backward()
    torch.optim.SGD(in_situ.parameters(), lr=0.1).step()
    return in_situ(torch.rand(3, 4))


def step_with_a_bad_gradient(config: AnalogConfig, bad: float) -> None:
    in_situ = layer(config)
    in_situ(torch.rand(3, 4)).sum().backward()
    in_situ.weight.grad[0, 0] = bad
    AnalogSGD(in_situ.parameters(), lr=0.1).step()


def load_state_of(source: nn.Module, target: nn.Module) -> None:
    target.load_state_dict(source.state_dict())


def load_state_with_extra(extra: object) -> None:
    target = layer()
    state = target.state_dict()
    state["tiles.weight.0._extra_state"] = extra
    target.load_state_dict(state)


def load_changed(
    name: str, change: Callable[[object], object], config: AnalogConfig | None = None
) -> None:
    """Loads a layer's own state_dict back with one entry changed (copied first: the state_dict
    holds the layer's own buffers)."""
    target = layer(presets.ambrogio2018() if config is None else config)
    state = copy.deepcopy(target.state_dict())
    key = name if name == "weight" else "tiles.weight.0." + name
    state[key] = change(state[key])
    target.load_state_dict(state)


def with_extra(**fields) -> Callable[[dict], dict]:
    return lambda extra: {**extra, **fields}


def saved_checkpoint(name: str, source: nn.Module | None = None) -> str:
    analogtorch.save_checkpoint(
        model(presets.ambrogio2018()) if source is None else source, name
    )
    return name


def self_doubling(depth: int) -> list:
    """A list of 2^depth leaves that pickles to a few bytes per level (each level shared)."""
    nested: list = [0]
    for _ in range(depth):
        nested = [nested, nested]
    return nested


def crafted_checkpoint(name: str, state_dict: dict) -> str:
    """A file laid out as save_checkpoint lays it out, with any state_dict, and no valid digest."""
    from analogtorch.checkpoint import _FORMAT

    payload = {"analogtorch_checkpoint": _FORMAT, "analogtorch_version": analogtorch.__version__,
               "state_dict": state_dict, "extra": {}, "sha256": "0" * 64}  # fmt: skip
    return torch_saved(name, payload)


def aliased_step(alias: str) -> None:
    """capacitor_step_ with v_c passed again as another tensor argument."""
    v = V.clone()
    args = {"w": torch.zeros(8), "gp": G, "gm": G, **{{"weight": "w", "g_minus_us": "gm"}[alias]: v}}
    step(v=v, **args)


def aliased_pair_step(alias: str) -> None:
    """pcm_pair_step_ with one buffer passed as two tensor arguments."""
    gp, gm, w = torch.ones(4), torch.ones(4), torch.zeros(4)
    if alias == "g_minus_us":
        pair_step(gp=gp, gm=gp, w=w)
    else:
        pair_step(gp=gp, gm=gm, w=w, d=w)


def torch_saved(name: str, payload: object) -> str:
    torch.save(payload, name)
    return name


def truncated_checkpoint(name: str) -> str:
    data = Path(saved_checkpoint(name)).read_bytes()
    write(name, data[: len(data) // 2])
    return name


def frozen_write(config: object, name: str, value: object) -> None:
    setattr(config, name, value)


def cli(*argv: str) -> int:
    from analogtorch.__main__ import run

    return run(list(argv))


def write(name: str, data: bytes) -> Path:
    """Writes a file into the working directory (each entry runs in its own temporary one)."""
    path = Path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def idx(code: int, shape: tuple[int, ...], data: bytes | None = None) -> bytes:
    """An idx file: magic (0, 0, type code, dims), big-endian int32 sizes, then data (zeros by default)."""
    header = bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}i", *shape)
    return header + (bytes(math.prod(shape)) if data is None else data)


def dataset(images: bytes | None, labels: bytes | None, directory: str = "data") -> str:
    """A directory holding the train split's idx files (None leaves a file out)."""
    Path(directory).mkdir(exist_ok=True)
    if images is not None:
        write(f"{directory}/train-images-idx3-ubyte", images)
    if labels is not None:
        write(f"{directory}/train-labels-idx1-ubyte", labels)
    return directory


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------

# fmt: off
BAD_INPUTS = [
    # --- make_rng_state ---------------------------------------------------------------------------
    BadInput("dtypes", lambda: analogtorch.make_rng_state(1.5), TypeError, "seed and step: expected ints, got float and int"),
    BadInput("dtypes", lambda: analogtorch.make_rng_state(0, 1.0), TypeError, "seed and step: expected ints, got int and float"),
    BadInput("dtypes", lambda: analogtorch.make_rng_state("7"), TypeError, "seed and step: expected ints, got str and int"),
    BadInput("dtypes", lambda: analogtorch.make_rng_state(True), TypeError, "seed and step: expected ints, got bool and int"),
    BadInput("dtypes", lambda: analogtorch.make_rng_state(0, False), TypeError, "seed and step: expected ints, got int and bool"),
    BadInput("values", lambda: analogtorch.make_rng_state(-1, step=-1), ValueError, "step: expected an integer >= 0"),
    BadInput("values", lambda: analogtorch.make_rng_state(2**64), ValueError, "seed: expected a 64-bit integer"),
    BadInput("values", lambda: analogtorch.make_rng_state(-(2**63) - 1), ValueError, "seed: expected a 64-bit integer"),
    # torch's own parsing of the device string
    BadInput("devices", lambda: analogtorch.make_rng_state(0, device="nope"), RuntimeError, "device type at start of device string: nope"),

    # --- pcm_program ------------------------------------------------------------------------------
    BadInput("dtypes", lambda: ops.pcm_program(G.to(torch.int32), RNG), RuntimeError, "target_us: expected a float32 tensor"),
    BadInput("dtypes", lambda: ops.pcm_program(G.double(), RNG), RuntimeError, "target_us: expected a float32 tensor, got Double"),
    BadInput("dtypes", lambda: ops.pcm_program(G, RNG.float()), RuntimeError, "rng: expected an int64 tensor (seed, step)"),
    # torch's schema check of a registered op: a RuntimeError, not a TypeError
    BadInput("dtypes", lambda: ops.pcm_program([1.0, 2.0], RNG), RuntimeError, "Expected a value of type 'Tensor' for argument 'target_us'"),
    BadInput("shapes", lambda: ops.pcm_program(G, RNG[:1]), RuntimeError, "rng: expected shape [2] (seed, step), got [1]"),
    BadInput("shapes", lambda: ops.pcm_program(G, torch.empty(0, dtype=torch.int64)), RuntimeError, "rng: expected shape [2] (seed, step), got [0]"),
    BadInput("devices", lambda: ops.pcm_program(G, RNG.to("meta")), RuntimeError, "rng: expected a tensor on the same device as target_us"),
    BadInput("devices", lambda: ops.pcm_program(G.to("meta"), RNG), RuntimeError, "rng: expected a tensor on the same device as target_us (meta), got cpu"),
    BadInput("values", lambda: ops.pcm_program(torch.tensor([1.0, float("nan")]), RNG), RuntimeError, "target_us: expected finite values"),
    BadInput("values", lambda: ops.pcm_program(torch.tensor([float("inf")]), RNG), RuntimeError, "target_us: expected finite values"),
    BadInput("values", lambda: ops.pcm_program(G, RNG, device_stride=0), RuntimeError, "device_stride: expected an integer >= 1, got 0"),
    BadInput("values", lambda: ops.pcm_program(G, RNG, device_offset=-1), RuntimeError, "device_offset: expected an integer >= 0, got -1"),
    BadInput("configs", lambda: ops.pcm_program(G, RNG, pcm="closed_loop"), TypeError, "pcm: expected a PCMDevice, got str"),
    BadInput("configs", lambda: ops.pcm_program(G, RNG, pcm=Capacitor3T1C()), TypeError, "pcm: expected a PCMDevice, got Capacitor3T1C"),
    BadInput("configs", lambda: torch.ops.analogtorch.pcm_program(G, RNG, [25.0] * 12, True), RuntimeError, "pcm_params: expected 14 values, got 12"),
    BadInput("configs", lambda: torch.ops.analogtorch.pcm_program(G, RNG, [-1.0] + [1.0] * 13, True), RuntimeError, "pcm_params[g_max_us]: expected a number > 0"),
    BadInput("configs", lambda: torch.ops.analogtorch.pcm_program(G, RNG, pcm_params_with(max_resets=51), True), RuntimeError, "pcm_params[max_resets]: expected an integer in [0, 50]"),
    BadInput("configs", lambda: torch.ops.analogtorch.pcm_program(G, RNG, pcm_params_with(t_read_s=0), True), RuntimeError, "pcm_params[t_read_s]: expected a number > 0"),

    # --- hardware_aware_read ----------------------------------------------------------------------
    BadInput("dtypes", lambda: ops.hardware_aware_read(G.double(), RNG), RuntimeError, "weight_us: expected a float32 tensor"),
    BadInput("dtypes", lambda: ops.hardware_aware_read(G, RNG.int()), RuntimeError, "rng: expected an int64 tensor"),
    BadInput("dtypes", lambda: ops.hardware_aware_read(G, RNG, time_min_s="1"), TypeError, "time_min_s: expected a number, got str"),
    BadInput("devices", lambda: ops.hardware_aware_read(G, RNG.to("meta")), RuntimeError, "rng: expected a tensor on the same device as weight_us"),
    BadInput("values", lambda: ops.hardware_aware_read(G, RNG, time_min_s=10.0, time_max_s=1.0), RuntimeError, "time_max_s: expected >= time_min_s (10), got 1"),
    BadInput("values", lambda: ops.hardware_aware_read(G, RNG, time_min_s=0.0, time_max_s=1.0), RuntimeError, "time_min_s: expected > 0 for a time window"),
    BadInput("values", lambda: ops.hardware_aware_read(G, RNG, time_min_s=-1.0), RuntimeError, "time_min_s: expected a finite number >= 0"),
    BadInput("values", lambda: ops.hardware_aware_read(G, RNG, time_max_s=float("inf")), RuntimeError, "time_max_s: expected a finite number >= 0"),
    BadInput("configs", lambda: ops.hardware_aware_read(G, RNG, pcm=Capacitor3T1C()), TypeError, "pcm: expected a PCMDevice, got Capacitor3T1C"),

    # --- pcm_read_moments -------------------------------------------------------------------------
    BadInput("dtypes", lambda: ops.pcm_read_moments(G.double(), NU, 1.0), RuntimeError, "conductance_us: expected a float32 tensor"),
    BadInput("dtypes", lambda: ops.pcm_read_moments(G, NU.half(), 1.0), RuntimeError, "drift_nu: expected a float32 tensor"),
    BadInput("dtypes", lambda: ops.pcm_read_moments(G, NU, "1"), TypeError, "time_s: expected a number, got str"),
    BadInput("shapes", lambda: ops.pcm_read_moments(G, NU[:4], 1.0), RuntimeError, "drift_nu: expected the shape of conductance_us [8], got [4]"),
    BadInput("devices", lambda: ops.pcm_read_moments(G, NU.to("meta"), 1.0), RuntimeError, "drift_nu: expected a tensor on the same device as conductance_us"),
    BadInput("values", lambda: ops.pcm_read_moments(G, NU, -1.0), RuntimeError, "time_s: expected a finite number >= 0"),
    BadInput("values", lambda: ops.pcm_read_moments(G, NU, 1.0, t_read_s=0.0), RuntimeError, "t_read_s: expected a finite number > 0"),

    # --- add_read_noise -----------------------------------------------------------------------------
    BadInput("dtypes", lambda: ops.add_read_noise(G.double(), NU, RNG), RuntimeError, "y: expected a float32 tensor"),
    BadInput("dtypes", lambda: ops.add_read_noise(G, NU.half(), RNG), RuntimeError, "variance: expected a float32 tensor"),
    BadInput("dtypes", lambda: ops.add_read_noise(G, NU, RNG.int()), RuntimeError, "rng: expected an int64 tensor"),
    BadInput("shapes", lambda: ops.add_read_noise(G, NU[:4], RNG), RuntimeError, "variance: expected the shape of y [8], got [4]"),
    BadInput("shapes", lambda: ops.add_read_noise(G, NU, RNG[:1]), RuntimeError, "rng: expected shape [2]"),
    BadInput("devices", lambda: ops.add_read_noise(G, NU.to("meta"), RNG), RuntimeError, "variance: expected a tensor on the same device as y"),
    BadInput("devices", lambda: ops.add_read_noise(G, NU, RNG.to("meta")), RuntimeError, "rng: expected a tensor on the same device as y"),

    # --- found by fuzzing: values whose arithmetic would overflow float32 ---------------------------
    BadInput("values", lambda: ops.unit_cell_weight(G.clone().fill_(3e38), G, V, VAR, 1), RuntimeError, "g_plus_us: expected values in [-1e+09, 1e+09]"),
    BadInput("values", lambda: ops.unit_cell_weight(G, G, V + 5.0, VAR, 1), RuntimeError, "v_c: expected values in [0, 1]"),
    BadInput("values", lambda: ops.pcm_pair_step_(G.clone(), -G, torch.empty(8), D, RNG, gain_f=3.0, scale_us_per_unit=1.0, amplitude=0.05, max_pulses=15, refresh_us=20.0), RuntimeError, "g_minus_us: expected values in [0, 25]"),

    # --- pcm_read ---------------------------------------------------------------------------------
    BadInput("dtypes", lambda: ops.pcm_read(G.double(), NU, RNG, 1.0), RuntimeError, "conductance_us: expected a float32 tensor"),
    BadInput("dtypes", lambda: ops.pcm_read(G, NU.half(), RNG, 1.0), RuntimeError, "drift_nu: expected a float32 tensor"),
    BadInput("dtypes", lambda: ops.pcm_read(G, NU, RNG.int(), 1.0), RuntimeError, "rng: expected an int64 tensor"),
    BadInput("dtypes", lambda: ops.pcm_read(G, NU, RNG, None), TypeError, "time_s: expected a number, got NoneType"),
    BadInput("dtypes", lambda: ops.pcm_read(G, NU, RNG, "1"), TypeError, "time_s: expected a number, got str"),
    BadInput("dtypes", lambda: ops.pcm_read(G, NU, RNG, 1.0, read_noise=1), TypeError, "read_noise: expected a bool, got int"),
    BadInput("dtypes", lambda: ops.quantize(G, RNG, bits=8.7), TypeError, "bits: expected an int, got float"),
    BadInput("dtypes", lambda: ops.capacitor_leak(G, True), TypeError, "elapsed_s: expected a number, got bool"),
    BadInput("shapes", lambda: ops.pcm_read(G, NU[:4], RNG, 1.0), RuntimeError, "drift_nu: expected the shape of conductance_us [8], got [4]"),
    BadInput("shapes", lambda: ops.pcm_read(G, NU.reshape(2, 4), RNG, 1.0), RuntimeError, "drift_nu: expected the shape of conductance_us"),
    BadInput("shapes", lambda: ops.pcm_read(G, torch.empty(0), RNG, 1.0), RuntimeError, "drift_nu: expected the shape of conductance_us [8], got [0]"),
    BadInput("shapes", lambda: ops.pcm_read(G, NU, RNG[:1], 1.0), RuntimeError, "rng: expected shape [2]"),
    BadInput("devices", lambda: ops.pcm_read(G, NU.to("meta"), RNG, 1.0), RuntimeError, "drift_nu: expected a tensor on the same device as conductance_us"),
    BadInput("devices", lambda: ops.pcm_read(G, NU, RNG.to("meta"), 1.0), RuntimeError, "rng: expected a tensor on the same device as conductance_us"),
    BadInput("values", lambda: ops.pcm_read(G, NU, RNG, -1.0), RuntimeError, "time_s: expected a finite number >= 0"),
    BadInput("values", lambda: ops.pcm_read(G, NU, RNG, float("nan")), RuntimeError, "time_s: expected a finite number >= 0"),
    BadInput("values", lambda: ops.pcm_read(G, NU, RNG, float("inf")), RuntimeError, "time_s: expected a finite number >= 0"),
    BadInput("values", lambda: ops.pcm_read(G, NU, RNG, 1e39), RuntimeError, "time_s: expected a finite number >= 0, got 1e+39"),
    BadInput("values", lambda: ops.pcm_read(G, NU, RNG, 1.0, t0_s=0.0), RuntimeError, "t0_s: expected a finite number > 0"),
    BadInput("values", lambda: ops.pcm_read(G, NU, RNG, 1.0, g_max_us=0.0), RuntimeError, "g_max_us: expected a finite number > 0"),
    BadInput("values", lambda: ops.pcm_read(G, NU, RNG, 1.0, t_read_s=-1.0), RuntimeError, "t_read_s: expected a finite number > 0"),

    # --- pcm_pair_step_ ---------------------------------------------------------------------------
    BadInput("dtypes", lambda: pair_step(gp=torch.ones(4, dtype=torch.float64)), RuntimeError, "g_plus_us: expected a float32 tensor"),
    BadInput("dtypes", lambda: pair_step(w=torch.empty(4, dtype=torch.float64)), RuntimeError, "weight: expected a float32 tensor"),
    BadInput("dtypes", lambda: pair_step(r=RNG.int()), RuntimeError, "rng: expected an int64 tensor"),
    BadInput("shapes", lambda: pair_step(gm=torch.ones(3)), RuntimeError, "g_minus_us: expected the shape of g_plus_us"),
    BadInput("shapes", lambda: pair_step(d=torch.zeros(0)), RuntimeError, "delta_w_us: expected the shape of g_plus_us [4], got [0]"),
    BadInput("shapes", lambda: pair_step(gp=strided(4)), RuntimeError, "g_plus_us: expected a contiguous tensor (it is updated in place)"),
    BadInput("shapes", lambda: pair_step(gm=strided(4)), RuntimeError, "g_minus_us: expected a contiguous tensor (it is updated in place)"),
    BadInput("shapes", lambda: pair_step(w=strided(4)), RuntimeError, "weight: expected a contiguous tensor (it is updated in place)"),
    BadInput("devices", lambda: pair_step(d=torch.zeros(4, device="meta")), RuntimeError, "delta_w_us: expected a tensor on the same device as g_plus_us"),
    BadInput("values", lambda: pair_step(d=torch.tensor([float("nan")] * 4)), RuntimeError, "delta_w_us: expected finite values"),
    BadInput("values", lambda: pair_step(amplitude=0.0), RuntimeError, "amplitude: expected a number in (0, 1], got 0"),
    BadInput("values", lambda: pair_step(amplitude=1.5), RuntimeError, "amplitude: expected a number in (0, 1], got 1.5"),
    BadInput("values", lambda: pair_step(max_pulses=0), RuntimeError, "max_pulses: expected an integer in [1, 127], got 0"),
    BadInput("values", lambda: pair_step(max_pulses=128), RuntimeError, "max_pulses: expected an integer in [1, 127], got 128"),
    BadInput("values", lambda: pair_step(refresh_us=-1.0), RuntimeError, "refresh_us: expected a finite number > 0"),
    BadInput("values", lambda: pair_step(gain_f=0.0), RuntimeError, "gain_f: expected a finite number > 0"),
    BadInput("values", lambda: pair_step(scale_us_per_unit=float("nan")), RuntimeError, "scale_us_per_unit: expected a finite number > 0"),
    BadInput("configs", lambda: pair_step(pcm=Capacitor3T1C()), TypeError, "pcm: expected a PCMDevice, got Capacitor3T1C"),

    # --- cell_variation ---------------------------------------------------------------------------
    BadInput("dtypes", lambda: ops.cell_variation(RNG.int(), (4,)), RuntimeError, "rng: expected an int64 tensor"),
    # torch's schema check of a registered op: a RuntimeError, not a TypeError
    BadInput("dtypes", lambda: ops.cell_variation(RNG, (4.5,)), TypeError, "shape: expected an int, got float 4.5"),
    BadInput("dtypes", lambda: ops.cell_variation(RNG, 5), TypeError, "shape: expected a tuple of ints (e.g. (rows, cols)), got int 5"),
    BadInput("dtypes", lambda: ops.cell_variation(RNG, "44"), TypeError, "shape: expected a tuple of ints (e.g. (rows, cols)), got str '44'"),
    BadInput("shapes", lambda: ops.cell_variation(RNG[:1], (4,)), RuntimeError, "rng: expected shape [2]"),
    BadInput("shapes", lambda: ops.cell_variation(torch.zeros(2, 2, dtype=torch.int64), (4,)), RuntimeError, "rng: expected shape [2]"),
    BadInput("shapes", lambda: ops.cell_variation(RNG, (4, -1)), RuntimeError, "shape: expected sizes >= 0"),

    # --- capacitor_update -------------------------------------------------------------------------
    BadInput("dtypes", lambda: update(v=V.double()), RuntimeError, "v_c: expected a float32 tensor"),
    BadInput("dtypes", lambda: update(d=D.double()), RuntimeError, "delta_w_us: expected a float32 tensor"),
    BadInput("dtypes", lambda: update(var=VAR.to(torch.uint8)), RuntimeError, "variation: expected an int8 tensor"),
    BadInput("dtypes", lambda: update(var=VAR.float()), RuntimeError, "variation: expected an int8 tensor"),
    BadInput("dtypes", lambda: update(r=RNG.int()), RuntimeError, "rng: expected an int64 tensor"),
    BadInput("dtypes", lambda: update(r=RNG.float()), RuntimeError, "rng: expected an int64 tensor"),
    BadInput("shapes", lambda: update(d=D[:4]), RuntimeError, "delta_w_us: expected the shape of v_c"),
    BadInput("shapes", lambda: update(d=D.reshape(2, 4)), RuntimeError, "delta_w_us: expected the shape of v_c"),
    BadInput("shapes", lambda: update(var=VAR[:, :2]), RuntimeError, "variation: expected shape [8] + [3]"),
    BadInput("shapes", lambda: update(var=VAR[:4]), RuntimeError, "variation: expected shape [8] + [3]"),
    BadInput("shapes", lambda: update(var=VAR.reshape(-1)[:8]), RuntimeError, "variation: expected shape [8] + [3]"),
    BadInput("shapes", lambda: update(var=torch.empty(0, 3, dtype=torch.int8)), RuntimeError, "variation: expected shape [8] + [3] (the cells of v_c), got [0, 3]"),
    BadInput("shapes", lambda: update(r=torch.zeros(3, dtype=torch.int64)), RuntimeError, "rng: expected shape [2]"),
    BadInput("devices", lambda: update(var=VAR.to("meta")), RuntimeError, "variation: expected a tensor on the same device as v_c"),
    BadInput("devices", lambda: update(d=D.to("meta")), RuntimeError, "delta_w_us: expected a tensor on the same device as v_c"),
    BadInput("devices", lambda: update(r=RNG.to("meta")), RuntimeError, "rng: expected a tensor on the same device as v_c"),
    BadInput("values", lambda: update(d=torch.tensor([0.1] * 7 + [float("nan")])), RuntimeError, "delta_w_us: expected finite values"),
    BadInput("values", lambda: update(d=torch.tensor([float("inf")] + [0.1] * 7)), RuntimeError, "delta_w_us: expected finite values"),
    BadInput("values", lambda: update(d=torch.tensor([-float("inf")] + [0.1] * 7)), RuntimeError, "delta_w_us: expected finite values"),
    BadInput("values", lambda: update(polarity=0), RuntimeError, "polarity: expected +1 or -1, got 0"),
    BadInput("values", lambda: update(polarity=2), RuntimeError, "polarity: expected +1 or -1, got 2"),
    BadInput("values", lambda: ops.capacitor_update(V, VAR, D, RNG, -3), RuntimeError, "polarity: expected +1 or -1, got -3"),
    BadInput("configs", lambda: update(params=CAP_PARAMS[:12]), RuntimeError, "capacitor_params: expected 16 values, got 12"),
    BadInput("configs", lambda: update(params=[*CAP_PARAMS, 1.0]), RuntimeError, "capacitor_params: expected 16 values, got 17"),
    BadInput("configs", lambda: update(params=cap_params_with(max_pulses=200)), RuntimeError, "capacitor_params[max_pulses]: expected an integer in"),
    BadInput("configs", lambda: update(params=cap_params_with(max_pulses=2.5)), RuntimeError, "capacitor_params[max_pulses]: expected an integer in"),
    BadInput("configs", lambda: update(params=cap_params_with(soft_bounds=0.5)), RuntimeError, "capacitor_params[soft_bounds]: expected an integer"),
    BadInput("configs", lambda: update(params=cap_params_with(dv_pulse_v=0.0)), RuntimeError, "capacitor_params[dv_pulse_v]: expected a number > 0"),
    BadInput("configs", lambda: update(params=cap_params_with(dg_per_pulse_us=-1)), RuntimeError, "capacitor_params[dg_per_pulse_us]: expected a number > 0"),
    BadInput("configs", lambda: update(params=cap_params_with(c2c_sigma=-0.1)), RuntimeError, "capacitor_params[c2c_sigma]: expected a number >= 0"),
    BadInput("configs", lambda: update(params=cap_params_with(mismatch_sigma=float("nan"))), RuntimeError, "capacitor_params[mismatch_sigma]: expected a finite"),
    BadInput("configs", lambda: update(params=cap_params_with(v_max_v=float("inf"))), RuntimeError, "capacitor_params[v_max_v]: expected a finite"),
    BadInput("configs", lambda: update(params=cap_params_with(v_min_v=1e39)), RuntimeError, "capacitor_params[v_min_v]: expected a finite number (float32 range)"),
    BadInput("configs", lambda: update(params=cap_params_with(rail_margin_v=0.0)), RuntimeError, "capacitor_params[rail_margin_v]: expected a number > 0"),
    BadInput("configs", lambda: update(params=cap_params_with(v_init_v=1.5)), RuntimeError, "capacitor_params: expected v_min_v < v_init_v < v_max_v"),
    BadInput("configs", lambda: update(params=cap_params_with(v_init_v=0.0)), RuntimeError, "capacitor_params: expected v_min_v < v_init_v < v_max_v"),
    BadInput("configs", lambda: update(params=cap_params_with(v_min_v=0.9, v_max_v=0.1)), RuntimeError, "capacitor_params: expected v_min_v < v_init_v"),
    BadInput("configs", lambda: ops.capacitor_update(V, VAR, D, RNG, 1, PCMDevice()), TypeError, "capacitor: expected a Capacitor3T1C, got PCMDevice"),
    BadInput("configs", lambda: ops.capacitor_update(V, VAR, D, RNG, 1, {"dv_pulse_v": 0.004}), TypeError, "capacitor: expected a Capacitor3T1C, got dict"),

    # --- capacitor_leak ---------------------------------------------------------------------------
    BadInput("dtypes", lambda: ops.capacitor_leak(V.double(), 1.0), RuntimeError, "v_c: expected a float32 tensor"),
    BadInput("dtypes", lambda: ops.capacitor_leak(V.int(), 1.0), RuntimeError, "v_c: expected a float32 tensor, got Int"),
    BadInput("values", lambda: ops.capacitor_leak(V, -1.0), RuntimeError, "elapsed_s: expected a finite number >= 0"),
    BadInput("values", lambda: ops.capacitor_leak(V, float("inf")), RuntimeError, "elapsed_s: expected a finite number >= 0"),
    BadInput("values", lambda: ops.capacitor_leak(V, float("nan")), RuntimeError, "elapsed_s: expected a finite number >= 0"),
    BadInput("values", lambda: ops.capacitor_leak(V, 1e39), RuntimeError, "elapsed_s: expected a finite number >= 0, got 1e+39"),
    BadInput("values", lambda: ops.capacitor_leak(V, 1.0, tau_s=0.0), RuntimeError, "tau_s: expected a finite number > 0"),
    BadInput("values", lambda: ops.capacitor_leak(V, 1.0, tau_s=-2.0), RuntimeError, "tau_s: expected a finite number > 0"),
    BadInput("values", lambda: ops.capacitor_leak(V, 1.0, tau_s=float("inf")), RuntimeError, "tau_s: expected a finite number > 0"),
    BadInput("values", lambda: ops.capacitor_leak(V, 1.0, v_leak_v=float("nan")), RuntimeError, "v_leak_v: expected a finite number"),

    # --- capacitor_step_ --------------------------------------------------------------------------
    BadInput("dtypes", lambda: step(v=V.double()), RuntimeError, "v_c: expected a float32 tensor"),
    BadInput("dtypes", lambda: step(w=torch.empty(8, dtype=torch.float64)), RuntimeError, "weight: expected a float32 tensor"),
    BadInput("dtypes", lambda: step(gm=G.half()), RuntimeError, "g_minus_us: expected a float32 tensor"),
    BadInput("dtypes", lambda: step(d=D.double()), RuntimeError, "delta_w_us: expected a float32 tensor"),
    BadInput("dtypes", lambda: step(var=VAR.to(torch.int16)), RuntimeError, "variation: expected an int8 tensor"),
    BadInput("dtypes", lambda: step(r=RNG.int()), RuntimeError, "rng: expected an int64 tensor"),
    BadInput("shapes", lambda: step(w=torch.empty(4)), RuntimeError, "weight: expected the shape of v_c"),
    BadInput("shapes", lambda: step(gp=G[:4]), RuntimeError, "g_plus_us: expected the shape of v_c"),
    BadInput("shapes", lambda: step(var=VAR[:, :1]), RuntimeError, "variation: expected shape [8] + [3]"),
    BadInput("shapes", lambda: step(r=RNG[:1]), RuntimeError, "rng: expected shape [2]"),
    BadInput("shapes", lambda: step(v=strided()), RuntimeError, "v_c: expected a contiguous tensor (it is updated in place)"),
    BadInput("shapes", lambda: step(w=strided()), RuntimeError, "weight: expected a contiguous tensor (it is updated in place)"),
    BadInput("devices", lambda: step(gp=G.to("meta")), RuntimeError, "g_plus_us: expected a tensor on the same device as v_c"),
    BadInput("devices", lambda: step(r=RNG.to("meta")), RuntimeError, "rng: expected a tensor on the same device as v_c"),
    BadInput("values", lambda: step(d=torch.full((8,), float("nan"))), RuntimeError, "delta_w_us: expected finite values"),
    BadInput("values", lambda: step(polarity=0), RuntimeError, "polarity: expected +1 or -1"),
    BadInput("values", lambda: step(polarity=-2), RuntimeError, "polarity: expected +1 or -1"),
    BadInput("values", lambda: step(elapsed_s=-1e-6), RuntimeError, "elapsed_s: expected a finite number >= 0"),
    BadInput("values", lambda: step(tau_s=0.0), RuntimeError, "tau_s: expected a finite number > 0"),
    BadInput("values", lambda: step(v_leak_v=float("inf")), RuntimeError, "v_leak_v: expected a finite number"),
    BadInput("values", lambda: step(gain_f=0.0), RuntimeError, "gain_f: expected a finite number > 0"),
    BadInput("values", lambda: step(scale_us_per_unit=float("nan")), RuntimeError, "scale_us_per_unit: expected a finite number > 0"),
    BadInput("configs", lambda: step(capacitor=PCMDevice()), TypeError, "capacitor: expected a Capacitor3T1C, got PCMDevice"),

    # --- unit_cell_weight and its backward --------------------------------------------------------
    BadInput("dtypes", lambda: weight(gp=G.int()), RuntimeError, "g_plus_us: expected a float32 or float64 tensor"),
    BadInput("dtypes", lambda: weight(gp=G.half(), gm=G.half(), v=V.half()), RuntimeError, "g_plus_us: expected a float32 or float64 tensor"),
    BadInput("dtypes", lambda: weight(gm=G.double()), RuntimeError, "g_minus_us: expected the dtype of g_plus_us"),
    BadInput("dtypes", lambda: weight(v=V.double()), RuntimeError, "v_c: expected the dtype of g_plus_us"),
    BadInput("dtypes", lambda: weight(var=VAR.to(torch.int16)), RuntimeError, "variation: expected an int8 tensor"),
    BadInput("shapes", lambda: weight(gm=G[:4]), RuntimeError, "g_minus_us: expected the shape of g_plus_us"),
    BadInput("shapes", lambda: weight(v=V.reshape(2, 4)), RuntimeError, "v_c: expected the shape of g_plus_us"),
    BadInput("shapes", lambda: weight(var=VAR[:, :2]), RuntimeError, "variation: expected shape [8] + [3]"),
    BadInput("devices", lambda: weight(v=V.to("meta")), RuntimeError, "v_c: expected a tensor on the same device as g_plus_us"),
    BadInput("devices", lambda: weight(var=VAR.to("meta")), RuntimeError, "variation: expected a tensor on the same device as g_plus_us"),
    BadInput("devices", lambda: weight(gp=G.to("meta")), RuntimeError, "g_minus_us: expected a tensor on the same device as g_plus_us"),
    BadInput("values", lambda: weight(polarity=0), RuntimeError, "polarity: expected +1 or -1, got 0"),
    BadInput("values", lambda: weight(polarity=3), RuntimeError, "polarity: expected +1 or -1, got 3"),
    BadInput("values", lambda: weight(gain=float("nan")), RuntimeError, "gain_f: expected a finite number"),
    BadInput("values", lambda: weight(v_shared=torch.tensor(float("inf"))), RuntimeError, "v_shared: expected"),
    BadInput("values", lambda: weight(v_shared=torch.full((3,), 0.5)), RuntimeError, "v_shared: expected shape [] or the rows of v_c"),
    BadInput("values", lambda: weight(var_shared=torch.zeros(2, dtype=torch.int8)), RuntimeError, "variation_shared: expected shape [] + [3]"),
    BadInput("values", lambda: weight(v_shared=torch.tensor(0.5, dtype=torch.float64)), RuntimeError, "v_shared: expected the dtype of v_c"),
    BadInput("configs", lambda: weight(params=cap_params_with(read_exponent=2.5)), RuntimeError, "capacitor_params[read_exponent]: expected a number in [1, 2]"),
    BadInput("configs", lambda: ops.unit_cell_weight(G, G, V, VAR, 1, v_shared=V_SHARED), TypeError, "v_shared, variation_shared: expected both or neither"),
    BadInput("values", lambda: weight(scale=0.0), RuntimeError, "scale_us_per_unit: expected a finite number > 0"),
    BadInput("values", lambda: weight(scale=float("nan")), RuntimeError, "scale_us_per_unit: expected a finite number > 0"),
    BadInput("configs", lambda: weight(params=CAP_PARAMS[:-1]), RuntimeError, "capacitor_params: expected 16 values"),
    BadInput("configs", lambda: weight(params=cap_params_with(k_us_per_v2=0)), RuntimeError, "capacitor_params[k_us_per_v2]"),
    BadInput("configs", lambda: weight(params=cap_params_with(v_t_sigma_v=-0.1)), RuntimeError, "capacitor_params[v_t_sigma_v]"),
    BadInput("configs", lambda: ops.unit_cell_weight(G, G, V, VAR, 1, capacitor=PCMDevice()), TypeError, "capacitor: expected a Capacitor3T1C, got PCMDevice"),
    BadInput("dtypes", lambda: weight_backward(grad=G.int()), RuntimeError, "grad_weight: expected a float32 or float64 tensor"),
    BadInput("dtypes", lambda: weight_backward(v=V.double()), RuntimeError, "v_c: expected the dtype of grad_weight"),
    BadInput("shapes", lambda: weight_backward(v=V[:4]), RuntimeError, "v_c: expected the shape of grad_weight"),
    BadInput("shapes", lambda: weight_backward(var=VAR[:4]), RuntimeError, "variation: expected shape [8] + [3] (the cells of grad_weight)"),
    BadInput("values", lambda: weight_backward(polarity=-3), RuntimeError, "polarity: expected +1 or -1"),
    BadInput("values", lambda: weight_backward(scale=0.0), RuntimeError, "scale_us_per_unit: expected a finite number > 0"),

    # --- transfer ---------------------------------------------------------------------------------
    BadInput("dtypes", lambda: transfer(gp=G.double()), RuntimeError, "g_plus_us: expected a float32 tensor"),
    BadInput("dtypes", lambda: transfer(gm=G.double()), RuntimeError, "g_minus_us: expected a float32 tensor"),
    BadInput("dtypes", lambda: transfer(v=V.double()), RuntimeError, "v_c: expected a float32 tensor"),
    BadInput("dtypes", lambda: transfer(var=VAR.float()), RuntimeError, "variation: expected an int8 tensor"),
    BadInput("dtypes", lambda: transfer(r=RNG.int()), RuntimeError, "rng: expected an int64 tensor"),
    BadInput("shapes", lambda: transfer(v=V[:4]), RuntimeError, "v_c: expected the shape of g_plus_us"),
    BadInput("shapes", lambda: transfer(var=VAR[:5]), RuntimeError, "variation: expected shape [8] + [3]"),
    BadInput("shapes", lambda: transfer(r=torch.zeros(1, 2, dtype=torch.int64)), RuntimeError, "rng: expected shape [2]"),
    BadInput("devices", lambda: transfer(r=RNG.to("meta")), RuntimeError, "rng: expected a tensor on the same device as g_plus_us"),
    BadInput("devices", lambda: transfer(gm=G.to("meta")), RuntimeError, "g_minus_us: expected a tensor on the same device as g_plus_us"),
    BadInput("values", lambda: transfer(polarity=0), RuntimeError, "polarity: expected +1 or -1, got 0"),
    BadInput("values", lambda: transfer(next_polarity=0), RuntimeError, "next_polarity: expected +1 or -1, got 0"),
    BadInput("values", lambda: transfer(next_polarity=2), RuntimeError, "next_polarity: expected +1 or -1, got 2"),
    BadInput("values", lambda: ops.transfer(G, G, V, VAR, RNG, 1, next_polarity=-2), RuntimeError, "next_polarity: expected +1 or -1, got -2"),
    BadInput("values", lambda: transfer(gain=0.0), RuntimeError, "gain_f: expected a finite number > 0"),
    BadInput("values", lambda: transfer(v_shared=torch.tensor(float("nan"))), RuntimeError, "v_shared: expected"),
    BadInput("values", lambda: transfer(offset=-1.0), RuntimeError, "offset_us: expected a finite number >= 0"),
    BadInput("values", lambda: transfer(offset=float("inf")), RuntimeError, "offset_us: expected a finite number >= 0"),
    BadInput("values", lambda: transfer(rescale=0.0), RuntimeError, "rescale: expected a finite number > 0"),
    BadInput("values", lambda: transfer(rescale=float("nan")), RuntimeError, "rescale: expected a finite number > 0"),
    BadInput("values", lambda: transfer(time_s=-1.0), RuntimeError, "time_since_programming_s: expected a finite number >= 0"),
    BadInput("values", lambda: transfer(time_s=float("inf")), RuntimeError, "time_since_programming_s: expected a finite number >= 0"),
    BadInput("values", lambda: transfer(time_s=float("nan")), RuntimeError, "time_since_programming_s: expected a finite number >= 0"),
    BadInput("configs", lambda: transfer(pcm_params=PCM_PARAMS[:13]), RuntimeError, "pcm_params: expected 14 values, got 13"),
    BadInput("configs", lambda: transfer(pcm_params=pcm_params_with(g_max_us=-1)), RuntimeError, "pcm_params[g_max_us]"),
    BadInput("configs", lambda: transfer(pcm_params=pcm_params_with(max_iterations=0)), RuntimeError, "pcm_params[max_iterations]: expected an integer in"),
    BadInput("configs", lambda: transfer(pcm_params=pcm_params_with(read_noise=2)), RuntimeError, "pcm_params[read_noise]: expected an integer in [0, 1]"),
    BadInput("configs", lambda: transfer(pcm_params=pcm_params_with(verify_tolerance_us=float("nan"))), RuntimeError, "pcm_params[verify_tolerance_us]: expected a finite number"),
    BadInput("configs", lambda: transfer(pcm_params=pcm_params_with(approach_fraction=1.5)), RuntimeError, "pcm_params[approach_fraction]: expected a number in (0, 1]"),
    BadInput("configs", lambda: transfer(pcm_params=pcm_params_with(target_clip_us=30)), RuntimeError, "pcm_params: expected g_reset_us < target_clip_us <= g_max_us"),
    BadInput("configs", lambda: transfer(cap_params=CAP_PARAMS * 2), RuntimeError, "capacitor_params: expected 16 values, got 32"),
    BadInput("configs", lambda: transfer(cap_params=cap_params_with(max_pulses=200)), RuntimeError, "capacitor_params[max_pulses]: expected an integer in"),
    BadInput("configs", lambda: transfer(cap_params=cap_params_with(v_init_v=-0.5)), RuntimeError, "capacitor_params: expected v_min_v < v_init_v < v_max_v"),
    BadInput("configs", lambda: ops.transfer(G, G, V, VAR, RNG, 1, pcm=Capacitor3T1C()), TypeError, "pcm: expected a PCMDevice, got Capacitor3T1C"),
    BadInput("configs", lambda: ops.transfer(G, G, V, VAR, RNG, 1, capacitor=PCMDevice()), TypeError, "capacitor: expected a Capacitor3T1C, got PCMDevice"),
    BadInput("configs", lambda: ops.transfer(G, G, V, VAR, RNG, 1, capacitor="default"), TypeError, "capacitor: expected a Capacitor3T1C, got str"),

    # --- quantize and its backward ----------------------------------------------------------------
    BadInput("dtypes", lambda: ops.quantize(X.double(), RNG), RuntimeError, "x: expected a float32 tensor"),
    BadInput("dtypes", lambda: ops.quantize(X.half(), RNG), RuntimeError, "x: expected a float32 tensor"),
    BadInput("dtypes", lambda: ops.quantize(X.int(), RNG), RuntimeError, "x: expected a float32 tensor, got Int"),
    BadInput("dtypes", lambda: ops.quantize(X, RNG.int()), RuntimeError, "rng: expected an int64 tensor"),
    BadInput("shapes", lambda: ops.quantize(X, RNG[:1]), RuntimeError, "rng: expected shape [2]"),
    BadInput("devices", lambda: ops.quantize(X, RNG.to("meta")), RuntimeError, "rng: expected a tensor on the same device as x"),
    BadInput("devices", lambda: ops.quantize(X.to("meta"), RNG), RuntimeError, "rng: expected a tensor on the same device as x (meta), got cpu"),
    BadInput("values", lambda: ops.quantize(X, RNG, bits=1), RuntimeError, "bits: expected 0 (no rounding) or an integer in [2, 24], got 1"),
    BadInput("values", lambda: ops.quantize(X, RNG, bits=25), RuntimeError, "bits: expected 0 (no rounding) or an integer in [2, 24], got 25"),
    BadInput("values", lambda: ops.quantize(X, RNG, bits=-1), RuntimeError, "bits: expected 0 (no rounding) or an integer in [2, 24], got -1"),
    BadInput("values", lambda: ops.quantize(X, RNG, bound=0.0), RuntimeError, "bound: expected a finite number > 0"),
    BadInput("values", lambda: ops.quantize(X, RNG, bound=-1.0), RuntimeError, "bound: expected a finite number > 0"),
    BadInput("values", lambda: ops.quantize(X, RNG, bound=float("inf")), RuntimeError, "bound: expected a finite number > 0"),
    BadInput("values", lambda: ops.quantize(X, RNG, bound=float("nan")), RuntimeError, "bound: expected a finite number > 0"),
    BadInput("values", lambda: ops.quantize(X, RNG, noise_std=-0.1), RuntimeError, "noise_std: expected a finite number >= 0"),
    BadInput("values", lambda: ops.quantize(X, RNG, noise_std=float("inf")), RuntimeError, "noise_std: expected a finite number >= 0"),
    BadInput("dtypes", lambda: torch.ops.analogtorch.quantize_backward(X.double(), X, 1.0), RuntimeError, "grad_y: expected a float32 tensor"),
    BadInput("dtypes", lambda: torch.ops.analogtorch.quantize_backward(X, X.double(), 1.0), RuntimeError, "x: expected a float32 tensor"),
    BadInput("shapes", lambda: torch.ops.analogtorch.quantize_backward(X, X[:4], 1.0), RuntimeError, "x: expected the shape of grad_y"),
    BadInput("values", lambda: torch.ops.analogtorch.quantize_backward(X, X, 0.0), RuntimeError, "bound: expected a finite number > 0"),
    BadInput("values", lambda: torch.ops.analogtorch.quantize_backward(X, X, float("nan")), RuntimeError, "bound: expected a finite number > 0"),

    # --- PCMDevice --------------------------------------------------------------------------------
    BadInput("configs", lambda: PCMDevice(g_max_us=-1.0), ValueError, "g_max_us: expected a finite number > 0, got -1.0"),
    BadInput("configs", lambda: PCMDevice(g_max_us=0.0), ValueError, "g_max_us: expected a finite number > 0, got 0.0"),
    BadInput("configs", lambda: PCMDevice(g_max_us=float("inf")), ValueError, "g_max_us: expected a finite number > 0, got inf"),
    BadInput("configs", lambda: PCMDevice(g_max_us="25"), TypeError, "g_max_us: expected a number, got str '25'"),
    BadInput("configs", lambda: PCMDevice(g_reset_us=-0.1), ValueError, "g_reset_us: expected a finite number >= 0, got -0.1"),
    BadInput("configs", lambda: PCMDevice(target_clip_us=float("nan")), ValueError, "target_clip_us: expected a finite number > 0, got nan"),
    BadInput("configs", lambda: PCMDevice(programming="half_loop"), ValueError, "programming: expected one of ('closed_loop', 'open_loop'), got 'half_loop'"),
    BadInput("configs", lambda: PCMDevice(programming=1), TypeError, "programming: expected a str, one of ('closed_loop', 'open_loop'), got int 1"),
    BadInput("configs", lambda: PCMDevice(set_step_us=0.0), ValueError, "set_step_us: expected a finite number > 0, got 0.0"),
    BadInput("configs", lambda: PCMDevice(set_step_c2c=-0.5), ValueError, "set_step_c2c: expected a finite number >= 0, got -0.5"),
    BadInput("configs", lambda: PCMDevice(set_step_d2d=1.0), ValueError, "set_step_d2d: expected a finite number in [0, 1), got 1.0"),
    BadInput("configs", lambda: PCMDevice(verify_tolerance_us=0.0), ValueError, "verify_tolerance_us: expected a finite number > 0, got 0.0"),
    BadInput("configs", lambda: PCMDevice(max_iterations=0), ValueError, "max_iterations: expected an int in [1, 1000], got 0"),
    BadInput("configs", lambda: PCMDevice(max_iterations=1001), ValueError, "max_iterations: expected an int in [1, 1000], got 1001"),
    BadInput("configs", lambda: PCMDevice(max_iterations=True), TypeError, "max_iterations: expected an int, got bool True"),
    BadInput("configs", lambda: PCMDevice(max_iterations=20.0), TypeError, "max_iterations: expected an int, got float 20.0"),
    BadInput("configs", lambda: PCMDevice(max_resets=-1), ValueError, "max_resets: expected an int in [0, 50], got -1"),
    BadInput("configs", lambda: PCMDevice(approach_fraction=0.0), ValueError, "approach_fraction: expected a finite number in (0, 1], got 0.0"),
    BadInput("configs", lambda: PCMDevice(approach_fraction=1.5), ValueError, "approach_fraction: expected a finite number in (0, 1], got 1.5"),
    BadInput("configs", lambda: PCMDevice(verify_delay_s=-1e-6), ValueError, "verify_delay_s: expected a finite number > 0, got -1e-06"),
    BadInput("configs", lambda: PCMDevice(t0_s=0.0), ValueError, "t0_s: expected a finite number > 0, got 0.0"),
    BadInput("configs", lambda: PCMDevice(t_read_s=None), TypeError, "t_read_s: expected a number, got NoneType None"),
    BadInput("configs", lambda: PCMDevice(drift=1), TypeError, "drift: expected a bool, got int 1"),
    BadInput("configs", lambda: PCMDevice(read_noise="yes"), TypeError, "read_noise: expected a bool, got str 'yes'"),
    BadInput("configs", lambda: PCMDevice(g_reset_us=25.0), ValueError, "g_reset_us: expected < g_max_us (25.0), got 25.0"),
    BadInput("configs", lambda: PCMDevice(target_clip_us=26.0), ValueError, "target_clip_us: expected g_reset_us (0.1) < target_clip_us <= g_max_us (25.0), got 26.0"),
    BadInput("configs", lambda: PCMDevice(g_max_us=15.0), ValueError, "target_clip_us: expected g_reset_us (0.1) < target_clip_us <= g_max_us (15.0), got 20.0"),
    BadInput("configs", lambda: PCMDevice(g_reset_us=20.0), ValueError, "target_clip_us: expected g_reset_us (20.0) < target_clip_us <= g_max_us (25.0), got 20.0"),

    # --- Capacitor3T1C ----------------------------------------------------------------------------
    BadInput("configs", lambda: Capacitor3T1C(v_min_v=float("nan")), ValueError, "v_min_v: expected a finite number, got nan"),
    BadInput("configs", lambda: Capacitor3T1C(v_max_v="1.0"), TypeError, "v_max_v: expected a number, got str '1.0'"),
    BadInput("configs", lambda: Capacitor3T1C(v_init_v=-float("inf")), ValueError, "v_init_v: expected a finite number, got -inf"),
    BadInput("configs", lambda: Capacitor3T1C(v_leak_v=True), TypeError, "v_leak_v: expected a number, got bool True"),
    BadInput("configs", lambda: Capacitor3T1C(tau_s=0.0), ValueError, "tau_s: expected a finite number > 0, got 0.0"),
    BadInput("configs", lambda: Capacitor3T1C(tau_s=float("inf")), ValueError, "tau_s: expected a finite number > 0, got inf"),
    BadInput("configs", lambda: Capacitor3T1C(seconds_per_example_s=-1e-6), ValueError, "seconds_per_example_s: expected a finite number > 0, got -1e-06"),
    BadInput("configs", lambda: Capacitor3T1C(v_t_sigma_v=-0.02), ValueError, "v_t_sigma_v: expected a finite number >= 0, got -0.02"),
    BadInput("configs", lambda: Capacitor3T1C(k_us_per_v2=0.0), ValueError, "k_us_per_v2: expected a finite number > 0, got 0.0"),
    BadInput("configs", lambda: Capacitor3T1C(dv_pulse_v=0.0), ValueError, "dv_pulse_v: expected a finite number > 0, got 0.0"),
    BadInput("configs", lambda: Capacitor3T1C(mismatch_sigma=-0.1), ValueError, "mismatch_sigma: expected a finite number >= 0, got -0.1"),
    BadInput("configs", lambda: Capacitor3T1C(c2c_sigma=float("nan")), ValueError, "c2c_sigma: expected a finite number >= 0, got nan"),
    BadInput("configs", lambda: Capacitor3T1C(rail_margin_v=-0.05), ValueError, "rail_margin_v: expected a finite number > 0, got -0.05"),
    BadInput("configs", lambda: Capacitor3T1C(rail_margin_v=0.0), ValueError, "rail_margin_v: expected a finite number > 0, got 0.0"),
    BadInput("configs", lambda: Capacitor3T1C(soft_bounds=0), TypeError, "soft_bounds: expected a bool, got int 0"),
    BadInput("configs", lambda: Capacitor3T1C(max_pulses=0), ValueError, "max_pulses: expected an int in [1, 127], got 0"),
    BadInput("configs", lambda: Capacitor3T1C(max_pulses=128), ValueError, "max_pulses: expected an int in [1, 127], got 128"),
    BadInput("configs", lambda: Capacitor3T1C(max_pulses=15.0), TypeError, "max_pulses: expected an int, got float 15.0"),
    BadInput("configs", lambda: Capacitor3T1C(v_min_v=1.0), ValueError, "v_max_v: expected > v_min_v (1.0), got 1.0"),
    BadInput("configs", lambda: Capacitor3T1C(v_max_v=-0.5), ValueError, "v_max_v: expected > v_min_v (0.0), got -0.5"),
    BadInput("configs", lambda: Capacitor3T1C(v_init_v=1.0), ValueError, "v_init_v: expected v_min_v (0.0) < v_init_v < v_max_v (1.0), got 1.0"),
    BadInput("configs", lambda: Capacitor3T1C(v_init_v=0.0), ValueError, "v_init_v: expected v_min_v (0.0) < v_init_v < v_max_v (1.0), got 0.0"),
    BadInput("configs", lambda: Capacitor3T1C(v_min_v=0.6), ValueError, "v_init_v: expected v_min_v (0.6) < v_init_v < v_max_v (1.0), got 0.5"),
    BadInput("configs", lambda: Capacitor3T1C(v_leak_v=1.2), ValueError, "v_leak_v: expected within the rails [0.0, 1.0], got 1.2"),
    BadInput("configs", lambda: Capacitor3T1C(v_leak_v=-0.1), ValueError, "v_leak_v: expected within the rails [0.0, 1.0], got -0.1"),
    BadInput("configs", lambda: Capacitor3T1C(v_t_v=0.5), ValueError, "v_t_v: expected < v_init_v (0.5), got 0.5"),
    BadInput("configs", lambda: Capacitor3T1C(dv_pulse_v=1.0), ValueError, "dv_pulse_v: expected < v_max_v - v_min_v (1.0), got 1.0"),
    BadInput("configs", lambda: Capacitor3T1C(rail_margin_v=0.5), ValueError, "rail_margin_v: expected < (v_max_v - v_min_v) / 2 (0.5), got 0.5"),

    # --- UnitCell ---------------------------------------------------------------------------------
    BadInput("configs", lambda: UnitCell(pcm=Capacitor3T1C()), TypeError, "pcm: expected a PCMDevice, got Capacitor3T1C"),
    BadInput("configs", lambda: UnitCell(capacitor=PCMDevice()), TypeError, "capacitor: expected a Capacitor3T1C, got PCMDevice"),
    BadInput("configs", lambda: UnitCell(capacitor={"tau_s": 1.0}), TypeError, "capacitor: expected a Capacitor3T1C, got dict"),
    BadInput("configs", lambda: UnitCell(gain_f=0.0), ValueError, "gain_f: expected a finite number > 0, got 0.0"),
    BadInput("configs", lambda: UnitCell(offset_us=-2.0), ValueError, "offset_us: expected a finite number >= 0, got -2.0"),
    BadInput("configs", lambda: UnitCell(transfer_every=0), ValueError, "transfer_every: expected an int >= 1, got 0"),
    BadInput("configs", lambda: UnitCell(transfer_every=8000.0), TypeError, "transfer_every: expected an int, got float 8000.0"),
    BadInput("configs", lambda: UnitCell(polarity_inversion=None), TypeError, "polarity_inversion: expected a bool, got NoneType None"),
    BadInput("configs", lambda: UnitCell(remap_at_transfer=1), TypeError, "remap_at_transfer: expected a bool, got int 1"),
    BadInput("configs", lambda: UnitCell(weight_range_fraction=0.0), ValueError, "weight_range_fraction: expected a finite number in (0, 1], got 0.0"),
    BadInput("configs", lambda: UnitCell(weight_range_fraction=1.01), ValueError, "weight_range_fraction: expected a finite number in (0, 1], got 1.01"),
    # the capacitor may carry two offsets; it can rise only g(1 V) - g_shared = 35 - 10 = 25 uS
    BadInput("configs", lambda: UnitCell(offset_us=13.0), ValueError, "offset_us: expected <= half the capacitor's upward swing g(v_max_v) - g_shared_us (25 uS), got 13.0"),
    BadInput("configs", lambda: UnitCell(offset_us=2.0, capacitor=Capacitor3T1C(k_us_per_v2=2.0)), ValueError, "offset_us: expected <= half the capacitor's upward swing g(v_max_v) - g_shared_us (1 uS), got 2.0"),
    BadInput("configs", lambda: Capacitor3T1C(read_exponent=0.5), ValueError, "read_exponent"),
    BadInput("configs", lambda: Capacitor3T1C(down_up_ratio=0.0), ValueError, "down_up_ratio"),
    BadInput("configs", lambda: Capacitor3T1C(step_slope_per_v=-0.1), ValueError, "step_slope_per_v"),
    # a nested config is validated at its own construction, before the UnitCell sees it
    BadInput("configs", lambda: UnitCell(capacitor=Capacitor3T1C(tau_s=-1.0)), ValueError, "tau_s: expected a finite number > 0, got -1.0"),

    # --- Periphery --------------------------------------------------------------------------------
    BadInput("configs", lambda: Periphery(in_bits=-1), ValueError, "in_bits: expected an int in [0, 24], got -1"),
    BadInput("configs", lambda: Periphery(in_bits=25), ValueError, "in_bits: expected an int in [0, 24], got 25"),
    BadInput("configs", lambda: Periphery(in_bits=1), ValueError, "in_bits: expected 0 (off) or an int in [2, 24], got 1"),
    BadInput("configs", lambda: Periphery(in_bits=False), TypeError, "in_bits: expected an int, got bool False"),
    BadInput("configs", lambda: Periphery(in_bound=0.0), ValueError, "in_bound: expected a finite number > 0, got 0.0"),
    BadInput("configs", lambda: Periphery(out_bits=8.5), TypeError, "out_bits: expected an int, got float 8.5"),
    BadInput("configs", lambda: Periphery(out_bits=32), ValueError, "out_bits: expected an int in [0, 24], got 32"),
    BadInput("configs", lambda: Periphery(out_bound=-10.0), ValueError, "out_bound: expected a finite number > 0, got -10.0"),
    BadInput("configs", lambda: Periphery(out_noise=-0.01), ValueError, "out_noise: expected a finite number >= 0, got -0.01"),
    BadInput("configs", lambda: Periphery(out_noise=float("inf")), ValueError, "out_noise: expected a finite number >= 0, got inf"),
    BadInput("configs", lambda: Periphery(backward_like_forward="true"), TypeError, "backward_like_forward: expected a bool, got str 'true'"),

    # --- replace() and frozen configs -------------------------------------------------------------
    BadInput("configs", lambda: replace(PCMDevice(), g_max_us=-1.0), ValueError, "g_max_us: expected a finite number > 0, got -1.0"),
    BadInput("configs", lambda: replace(PCMDevice(), g_max_us=10.0), ValueError, "target_clip_us: expected g_reset_us (0.1) < target_clip_us <= g_max_us (10.0), got 20.0"),
    BadInput("configs", lambda: replace(Capacitor3T1C(), v_init_v=2.0), ValueError, "v_init_v: expected v_min_v (0.0) < v_init_v < v_max_v (1.0), got 2.0"),
    BadInput("configs", lambda: replace(UnitCell(), pcm=None), TypeError, "pcm: expected a PCMDevice, got NoneType"),
    BadInput("configs", lambda: replace(UnitCell(), capacitor=Capacitor3T1C(k_us_per_v2=1.0)), ValueError, "offset_us: expected <= half the capacitor's upward swing"),
    BadInput("configs", lambda: replace(Periphery(), out_bits=True), TypeError, "out_bits: expected an int, got bool True"),
    BadInput("configs", lambda: replace(PCMDevice(), g_max=30.0), TypeError, "got an unexpected keyword argument 'g_max'"),
    BadInput("configs", lambda: presets.replace(presets.ideal(), nope=1), TypeError, "got an unexpected keyword argument 'nope'"),
    BadInput("configs", lambda: frozen_write(PCMDevice(), "g_max_us", 30.0), dataclasses.FrozenInstanceError, "cannot assign to field 'g_max_us'"),
    BadInput("configs", lambda: frozen_write(Capacitor3T1C(), "tau_s", 2.0), dataclasses.FrozenInstanceError, "cannot assign to field 'tau_s'"),
    BadInput("configs", lambda: frozen_write(UnitCell(), "gain_f", 1.0), dataclasses.FrozenInstanceError, "cannot assign to field 'gain_f'"),
    BadInput("configs", lambda: frozen_write(UnitCell(), "pcm", PCMDevice()), dataclasses.FrozenInstanceError, "cannot assign to field 'pcm'"),
    BadInput("configs", lambda: frozen_write(Periphery(), "in_bits", 4), dataclasses.FrozenInstanceError, "cannot assign to field 'in_bits'"),
    BadInput("configs", lambda: frozen_write(presets.ideal(), "seed", 3), dataclasses.FrozenInstanceError, "cannot assign to field 'seed'"),

    # --- the tile configurations and the presets --------------------------------------------------
    BadInput("configs", lambda: AnalogConfig(), TypeError, "AnalogConfig: build one of its tile kinds (IdealConfig, HardwareAwareConfig, UnitCellConfig, PCMPairConfig)"),
    BadInput("configs", lambda: UnitCellConfig(unit_cell=PCMDevice()), TypeError, "unit_cell: expected a UnitCell, got PCMDevice"),
    BadInput("configs", lambda: HardwareAwareConfig(pcm=UnitCell()), TypeError, "pcm: expected a PCMDevice, got UnitCell"),
    BadInput("configs", lambda: HardwareAwareConfig(periphery=None), TypeError, "periphery: expected a Periphery, got NoneType"),
    BadInput("configs", lambda: HardwareAwareConfig(train_time_min_s=-1.0), ValueError, "train_time_min_s: expected a finite number >= 0, got -1.0"),
    BadInput("configs", lambda: HardwareAwareConfig(train_time_max_s=float("inf")), ValueError, "train_time_max_s: expected a finite number >= 0, got inf"),
    BadInput("configs", lambda: HardwareAwareConfig(train_time_min_s=10.0, train_time_max_s=1.0), ValueError, "train_time_max_s: expected >= train_time_min_s (10.0), got 1.0"),
    BadInput("configs", lambda: HardwareAwareConfig(weight_clip_sigmas=0.0), ValueError, "weight_clip_sigmas: expected a finite number > 0, got 0.0"),
    BadInput("configs", lambda: PCMPairConfig(update_amplitude=1.5), ValueError, "update_amplitude: expected a finite number in (0, 1], got 1.5"),
    BadInput("configs", lambda: PCMPairConfig(update_max_pulses=0), ValueError, "update_max_pulses: expected an int in [1, 127], got 0"),
    BadInput("configs", lambda: PCMPairConfig(update_max_pulses=128), ValueError, "update_max_pulses: expected an int in [1, 127], got 128"),
    BadInput("configs", lambda: PCMPairConfig(refresh_fraction=1.0), ValueError, "refresh_fraction: expected a finite number in (0, 1), got 1.0"),
    BadInput("configs", lambda: UnitCellConfig(drift_compensation=1), ValueError, "drift_compensation: expected one of ('global', 'column', None) (or True / False), got 1"),
    BadInput("configs", lambda: UnitCellConfig(seed=2**64), ValueError, "seed: expected an int in [-9223372036854775808, 18446744073709551615], got 18446744073709551616"),
    BadInput("configs", lambda: PCMPairConfig(seed=-(2**63) - 1), ValueError, "seed: expected an int in [-9223372036854775808, 18446744073709551615]"),
    BadInput("configs", lambda: HardwareAwareConfig(seed=1.5), TypeError, "seed: expected an int, got float 1.5"),
    BadInput("configs", lambda: presets.hardware_aware(out_noise=-1.0), ValueError, "out_noise: expected a finite number >= 0, got -1.0"),
    BadInput("configs", lambda: presets.hardware_aware(train_time_max_s=0.5), ValueError, "train_time_max_s: expected >= train_time_min_s (1.0), got 0.5"),
    BadInput("configs", lambda: presets.hardware_aware(transfer_every=5), TypeError, "transfer_every: not a field of HardwareAwareConfig"),
    BadInput("configs", lambda: presets.ambrogio2018(transfer_every=0), ValueError, "transfer_every: expected an int >= 1, got 0"),
    BadInput("configs", lambda: presets.ambrogio2018(polarity_inversion="yes"), TypeError, "polarity_inversion: expected a bool, got str 'yes'"),
    BadInput("configs", lambda: presets.pcm_only(nope=1), TypeError, "nope: not a field of PCMPairConfig or of its parts"),

    # --- AnalogLinear: construction ---------------------------------------------------------------
    BadInput("dtypes", lambda: AnalogLinear(4.0, 2), TypeError, "in_features: expected an int, got float"),
    BadInput("dtypes", lambda: AnalogLinear(True, 2), TypeError, "in_features: expected an int, got bool"),
    BadInput("dtypes", lambda: AnalogLinear(4, "2"), TypeError, "out_features: expected an int, got str"),
    BadInput("shapes", lambda: AnalogLinear(-1, 2), ValueError, "in_features: expected an int >= 0, got -1"),
    BadInput("shapes", lambda: AnalogLinear(4, -3), ValueError, "out_features: expected an int >= 0, got -3"),
    BadInput("dtypes", lambda: AnalogLinear(4, 2, dtype=torch.float64), ValueError, "dtype: HardwareAware layers simulate float32 devices and return the input's dtype, got torch.float64"),
    BadInput("dtypes", lambda: AnalogLinear(4, 2, dtype=torch.float16, config=presets.ambrogio2018()), ValueError, "dtype: UnitCell layers simulate float32 devices"),
    BadInput("dtypes", lambda: AnalogLinear(4, 2, dtype=torch.bfloat16, config=presets.pcm_only()), ValueError, "dtype: PCMPair layers simulate float32 devices"),
    BadInput("configs", lambda: AnalogLinear(4, 2, config="ideal"), TypeError, "config: expected an analogtorch.presets.AnalogConfig, got str"),
    BadInput("configs", lambda: AnalogLinear(4, 2, config=UnitCell()), TypeError, "config: expected an analogtorch.presets.AnalogConfig, got UnitCell"),
    # torch's own parsing of the device string
    BadInput("devices", lambda: AnalogLinear(4, 2, device="nope"), RuntimeError, "device type at start of device string: nope"),
    BadInput("devices", lambda: AnalogLinear(4, 2, device="meta", config=presets.ambrogio2018()), ValueError, "device: a UnitCellTile programs its devices when built; it needs a real device, got meta"),
    BadInput("devices", lambda: AnalogLinear(4, 2, device="meta", config=presets.pcm_only()), ValueError, "device: a PCMPairTile programs its devices when built"),

    # --- AnalogLinear: forward --------------------------------------------------------------------
    BadInput("shapes", lambda: layer()(torch.rand(3, 5)), ValueError, "input: expected shape [*, 4], got [3, 5]"),
    BadInput("shapes", lambda: layer()(torch.tensor(1.0)), ValueError, "input: expected shape [*, 4], got []"),
    BadInput("shapes", lambda: layer()(torch.rand(3, 0)), ValueError, "input: expected shape [*, 4], got [3, 0]"),
    BadInput("shapes", lambda: layer(presets.ideal())(torch.rand(4, 3)), ValueError, "input: expected shape [*, 4], got [4, 3]"),
    BadInput("shapes", lambda: layer(presets.ambrogio2018())(torch.rand(2, 3, 5)), ValueError, "input: expected shape [*, 4], got [2, 3, 5]"),
    BadInput("shapes", lambda: eval_forward(programmed(), torch.rand(3, 5)), ValueError, "input: expected shape [*, 4], got [3, 5]"),
    BadInput("dtypes", lambda: layer()([1.0, 2.0, 3.0, 4.0]), TypeError, "input: expected a Tensor, got list"),
    BadInput("dtypes", lambda: layer()(torch.ones(3, 4, dtype=torch.int64)), TypeError, "input: expected a floating-point tensor, got torch.int64"),
    BadInput("dtypes", lambda: layer(presets.ambrogio2018())(torch.ones(3, 4, dtype=torch.bool)), TypeError, "input: expected a floating-point tensor, got torch.bool"),
    BadInput("dtypes", lambda: layer(presets.pcm_only())(torch.ones(3, 4, dtype=torch.complex64)), TypeError, "input: expected a floating-point tensor, got torch.complex64"),
    BadInput("dtypes", lambda: programmed()(torch.ones(3, 4, dtype=torch.int32)), TypeError, "input: expected a floating-point tensor, got torch.int32"),
    BadInput("dtypes", lambda: layer(presets.ideal())(torch.ones(3, 4, dtype=torch.int64)), TypeError, "input: expected a floating-point tensor, got torch.int64"),
    BadInput("dtypes", lambda: layer(presets.ideal())(torch.ones(3, 4, dtype=torch.float64)), TypeError, "input: expected torch.float32, the layer's dtype (as torch's layers), got torch.float64"),
    BadInput("devices", lambda: eval_forward(layer(), torch.rand(3, 4, device="meta")), ValueError, "input: expected a tensor on the layer's device (cpu), got meta"),
    BadInput("devices", lambda: layer(presets.ambrogio2018())(torch.rand(3, 4, device="meta")), ValueError, "input: expected a tensor on the layer's device (cpu), got meta"),
    BadInput("devices", lambda: layer(presets.ideal())(torch.rand(3, 4, device="meta")), ValueError, "input: expected a tensor on the layer's device (cpu), got meta"),
    BadInput("configs", lambda: programmed()(torch.rand(3, 4)), RuntimeError, "it is programmed for inference and cannot train (its weights are in PCM)"),

    # --- AnalogLinear: training and state ---------------------------------------------------------
    BadInput("configs", forward_after_a_digital_step, RuntimeError, "its weight was changed outside the devices (by a digital optimizer or an in-place write?); train it with analogtorch.optim.AnalogSGD"),
    BadInput("values", lambda: step_with_a_bad_gradient(presets.ambrogio2018(), float("nan")), ValueError, "AnalogSGD: the gradient of 1 parameter(s) (1 device-held weight(s), 0 digital) holds NaN or Inf; nothing was updated"),
    BadInput("values", lambda: step_with_a_bad_gradient(presets.pcm_only(), float("-inf")), ValueError, "AnalogSGD: the gradient of 1 parameter(s) (1 device-held weight(s), 0 digital) holds NaN or Inf"),
    BadInput("configs", lambda: load_state_of(layer(presets.ambrogio2018(transfer_every=100)), layer(presets.ambrogio2018())), ValueError, "state_dict: saved from a layer of another configuration: unit_cell.transfer_every = 100 (layer: 8000)"),
    BadInput("configs", lambda: load_state_of(layer(presets.ideal()), layer()), ValueError, "state_dict: expected the state of a HardwareAwareTile (format 3), got {'format': 3, 'kind': 'DigitalTile'"),
    BadInput("shapes", lambda: load_state_of(layer(out_features=3), layer()), ValueError, "state_dict: saved from a tile of shape [3, 4], this tile is [2, 4]"),
    BadInput("shapes", lambda: load_state_of(layer(presets.ambrogio2018(), 12, 11), layer(presets.ambrogio2018(), 12, 10)), ValueError, "state_dict: saved from a tile of shape [11, 12], this tile is [10, 12]"),
    BadInput("values", lambda: load_state_with_extra({"format": 0}), ValueError, "state_dict: expected the state of a HardwareAwareTile (format 3), got {'format': 0}"),
    BadInput("values", lambda: load_state_with_extra("not a state"), ValueError, "state_dict: expected the state of a HardwareAwareTile (format 3), got 'not a state'"),
    # torch's strict load of a digital layer's state: the analog layer's own keys are missing
    BadInput("configs", lambda: load_state_of(nn.Linear(4, 2), layer()), RuntimeError, 'Missing key(s) in state_dict: "examples_read", "tiles.weight.0.rng_state"'),
    BadInput("values", lambda: programmed()[0].set_time(-1.0), ValueError, "time_s: expected a number of seconds in [0, 3.2e+09] (a century), got -1.0"),
    BadInput("values", lambda: programmed()[0].set_time(float("nan")), ValueError, "time_s: expected a number of seconds in [0, 3.2e+09] (a century), got nan"),
    BadInput("values", lambda: programmed()[0].set_time(1e30), ValueError, "time_s: expected a number of seconds in [0, 3.2e+09] (a century), got 1e+30"),
    BadInput("values", lambda: analogtorch.set_time(programmed(), 1e300), ValueError, "seconds: expected a number of seconds in [0, 3.2e+09] (a century), got 1e+300"),
    BadInput("dtypes", lambda: programmed()[0].set_time("1"), TypeError, "time_s: expected a number of seconds, got str"),
    BadInput("dtypes", lambda: programmed()[0].set_time(True), TypeError, "time_s: expected a number of seconds, got bool"),
    BadInput("configs", lambda: layer().set_time(1.0), RuntimeError, "set_time: the AnalogLinear is not programmed; call analogtorch.program(model) first"),
    BadInput("configs", lambda: programmed()[0].set_time(1.0, drift_compensation="no"), ValueError, "drift_compensation: expected one of ('global', 'column', None) (or True / False), got 'no'"),
    BadInput("configs", lambda: layer().program(pcm=Capacitor3T1C()), TypeError, "pcm: expected a PCMDevice, got Capacitor3T1C"),

    # a corrupted state_dict is refused before anything is copied
    BadInput("values", lambda: load_changed("g_plus_us", lambda t: t.fill_(float("nan"))), ValueError, "state_dict: tiles.weight.0.g_plus_us: expected finite values in [0.0, 25.0], got values in [nan, nan]"),
    BadInput("values", lambda: load_changed("g_minus_us", lambda t: t + 100.0), ValueError, "state_dict: tiles.weight.0.g_minus_us: expected finite values in [0.0, 25.0]"),
    BadInput("values", lambda: load_changed("g_plus_us", lambda t: t - 30.0, presets.pcm_only()), ValueError, "state_dict: tiles.weight.0.g_plus_us: expected finite values in [0.0, 25.0]"),
    BadInput("values", lambda: load_changed("v_c", lambda t: t + 5.0), ValueError, "state_dict: tiles.weight.0.v_c: expected finite values in [0.0, 1.0], got values in [5.5, 5.5]"),
    BadInput("values", lambda: load_changed("weight", lambda t: t + 1e-3), ValueError, "state_dict: weight: does not match the weights its devices hold"),
    BadInput("values", lambda: load_changed("polarity", lambda t: torch.tensor(0)), ValueError, "state_dict: tiles.weight.0.polarity: expected +1 or -1, got 0"),
    BadInput("values", lambda: load_changed("scale_us_per_unit", lambda t: t * float("nan")), ValueError, "state_dict: tiles.weight.0.scale_us_per_unit: expected finite values in [1e-30, 1e+30]"),
    BadInput("values", lambda: load_changed("pending_examples", lambda t: t - 4), ValueError, "state_dict: tiles.weight.0.pending_examples: expected finite values in [0, 9007199254740992], got values in [-4, -4]"),
    BadInput("values", lambda: load_changed("examples_since_transfer", lambda t: t + 10**18), ValueError, "state_dict: tiles.weight.0.examples_since_transfer: expected finite values in [0, 7999]"),
    BadInput("values", lambda: load_changed("time_since_programming_s", lambda t: t + float("inf")), ValueError, "state_dict: tiles.weight.0.time_since_programming_s: expected finite values in [0.0, 1e+30]"),
    BadInput("values", lambda: load_changed("counters", lambda t: t[:1]), ValueError, "state_dict: tiles.weight.0.counters: expected a torch.float64 tensor of shape [13], got torch.float64 [1]"),
    BadInput("configs", lambda: load_changed("_extra_state", with_extra(config={"mode": "in_situ"})), ValueError, "state_dict: expected a UnitCellTile config with the fields ['drift_compensation', 'periphery.array_cols', 'periphery.array_rows',"),
    BadInput("dtypes", lambda: load_changed("v_c", lambda t: t.double()), ValueError, "state_dict: tiles.weight.0.v_c: expected a torch.float32 tensor of shape [2, 4], got torch.float64 [2, 4]"),
    BadInput("dtypes", lambda: load_changed("rng_state", lambda t: t.int()), ValueError, "state_dict: tiles.weight.0.rng_state: expected a torch.int64 tensor of shape [2], got torch.int32 [2]"),
    BadInput("dtypes", lambda: load_changed("rng_state", lambda t: t.tolist()), ValueError, "state_dict: tiles.weight.0.rng_state: expected a torch.int64 tensor of shape [2], got list"),
    BadInput("shapes", lambda: load_changed("variation", lambda t: t[..., :2]), ValueError, "state_dict: tiles.weight.0.variation: expected a torch.int8 tensor of shape [2, 4, 3], got torch.int8 [2, 4, 2]"),
    BadInput("shapes", lambda: load_changed("g_minus_us", lambda t: t[:1]), ValueError, "state_dict: tiles.weight.0.g_minus_us: expected a torch.float32 tensor of shape [2, 4], got torch.float32 [1, 4]"),
    # the weight's shape is left to torch's strict load
    BadInput("shapes", lambda: load_changed("weight", lambda t: torch.zeros(3, 4)), RuntimeError, "size mismatch for weight: copying a param with shape torch.Size([3, 4]) from checkpoint"),

    # --- save_checkpoint, load_checkpoint ---------------------------------------------------------
    BadInput("dtypes", lambda: analogtorch.save_checkpoint({"weight": torch.zeros(1)}, "model.pt"), TypeError, "model: expected an nn.Module, got dict"),
    BadInput("dtypes", lambda: analogtorch.load_checkpoint("model", saved_checkpoint("model.pt")), TypeError, "model: expected an nn.Module, got str"),
    BadInput("dtypes", lambda: load_state_dict(model(), "state"), TypeError, "state_dict: expected a dict, got str"),
    # a missing file or directory is a ValueError here, a FileNotFoundError in the data loader
    BadInput("files", lambda: analogtorch.save_checkpoint(model(), "nope/model.pt"), ValueError, "path: the directory 'nope' does not exist"),
    BadInput("files", lambda: analogtorch.load_checkpoint(model(), "missing.pt"), ValueError, "path: no checkpoint file at 'missing.pt'"),
    BadInput("files", lambda: analogtorch.load_checkpoint(model(), "."), ValueError, "path: no checkpoint file at '.'"),
    BadInput("files", lambda: analogtorch.load_checkpoint(model(), write("garbage.pt", b"not a checkpoint" * 10)), ValueError, "checkpoint 'garbage.pt': unreadable (truncated or not written by torch.save)"),
    BadInput("files", lambda: analogtorch.load_checkpoint(model(), truncated_checkpoint("half.pt")), ValueError, "checkpoint 'half.pt': unreadable (truncated or not written by torch.save)"),
    BadInput("files", lambda: analogtorch.load_checkpoint(model(), write("empty.pt", b"")), ValueError, "checkpoint 'empty.pt': unreadable"),
    BadInput("files", lambda: analogtorch.load_checkpoint(model(), torch_saved("plain.pt", {"0.weight": torch.zeros(2, 4)})), ValueError, "checkpoint 'plain.pt': not an analogtorch checkpoint of format 2"),
    BadInput("files", lambda: analogtorch.load_checkpoint(model(), torch_saved("digest.pt", {"analogtorch_checkpoint": 2, "analogtorch_version": "0", "state_dict": {}, "extra": {}, "sha256": "0" * 64})), ValueError, "checkpoint 'digest.pt': its contents do not match their SHA-256 digest (corrupted)"),
    BadInput("shapes", lambda: analogtorch.load_checkpoint(model(presets.ambrogio2018()), saved_checkpoint("wide.pt", nn.Sequential(layer(presets.ambrogio2018(), 4, 3)))), ValueError, "state_dict: saved from a tile of shape [3, 4], this tile is [2, 4]"),
    BadInput("configs", lambda: analogtorch.load_checkpoint(model(presets.ambrogio2018()), saved_checkpoint("pcm.pt", model(presets.pcm_only()))), ValueError, "state_dict: expected the state of a UnitCellTile (format 3), got {'format': 3, 'kind': 'PCMPairTile'"),

    BadInput("files", lambda: analogtorch.load_checkpoint(model(), write("notes.pt", b"hello world\n" * 10)), ValueError, "checkpoint 'notes.pt': unreadable (truncated or not written by torch.save)"),
    BadInput("files", lambda: analogtorch.load_checkpoint(model(), crafted_checkpoint("bomb.pt", {"x": self_doubling(40)})), ValueError, "checkpoint 'bomb.pt': malformed: ['state_dict']['x']"),
    BadInput("files", lambda: analogtorch.load_checkpoint(model(), crafted_checkpoint("expand.pt", {"x": torch.zeros(1).expand(2**33)})), ValueError, "checkpoint 'expand.pt': malformed: ['state_dict']['x']: a tensor of shape [8589934592]"),
    BadInput("files", lambda: analogtorch.load_checkpoint(model(), crafted_checkpoint("keys.pt", {0: torch.zeros(1)})), ValueError, "checkpoint 'keys.pt': malformed: ['state_dict']: a key of type int (expected str keys)"),
    BadInput("values", lambda: analogtorch.load_checkpoint(model(), crafted_checkpoint("counter.pt", {"count": 2**80})), ValueError, "checkpoint 'counter.pt': malformed: ['state_dict']['count']: an int of 81 bits (expected at most 64)"),
    BadInput("dtypes", lambda: analogtorch.save_checkpoint(model(), "model.pt", extra={"x": object()}), TypeError, "extra: extra holds what a checkpoint cannot store: ['x']: a value of type object"),
    BadInput("dtypes", lambda: analogtorch.save_checkpoint(model(), "model.pt", extra=[1]), TypeError, "extra: expected a dict or None, got list"),

    # --- configurations at float32's limits ---------------------------------------------------------
    BadInput("configs", lambda: PCMDevice(t_read_s=1e-46), ValueError, "t_read_s: expected a number > 0 that float32 holds (>= 1.1754943508222875e-38), got 1e-46"),
    BadInput("configs", lambda: Capacitor3T1C(dv_pulse_v=1e-50), ValueError, "dv_pulse_v: expected a number > 0 that float32 holds"),
    BadInput("configs", lambda: PCMDevice(g_max_us=1e39, target_clip_us=20.0), ValueError, "g_max_us: expected a number within float32's range (|x| <= 3.4028234663852886e+38), got 1e+39"),
    BadInput("configs", lambda: PCMDevice(set_step_d2d=1.0 - 1e-12), ValueError, "set_step_d2d: expected a number in [0, 1) also in float32 (it rounds to 1.0)"),
    BadInput("configs", lambda: Capacitor3T1C(k_us_per_v2=1e-20, dv_pulse_v=1e-20), ValueError, "dv_pulse_v: expected dg_per_pulse_us = read_exponent k_us_per_v2 (v_init_v - v_t_v)^(read_exponent - 1) dv_pulse_v >= 1.1754943508222875e-38"),

    # --- raw ops: the configurations' cross-field rules and float32 limits, checked in C++ ----------
    BadInput("configs", lambda: update(params=cap_params_with(v_t_v=0.6)), RuntimeError, "capacitor_params[v_t_v]: expected < v_init_v (0.5), got 0.6"),
    BadInput("configs", lambda: update(params=cap_params_with(rail_margin_v=0.5)), RuntimeError, "capacitor_params[rail_margin_v]: expected < (v_max_v - v_min_v) / 2 (0.5), got 0.5"),
    BadInput("configs", lambda: update(params=cap_params_with(dv_pulse_v=1.0)), RuntimeError, "capacitor_params[dv_pulse_v]: expected < v_max_v - v_min_v (1), got 1"),
    BadInput("configs", lambda: update(params=cap_params_with(dg_per_pulse_us=1e-50)), RuntimeError, "capacitor_params[dg_per_pulse_us]: expected a number > 0 (in float32 at least"),
    BadInput("configs", lambda: update(params=cap_params_with(k_us_per_v2=3e38, v_max_v=10.0)), RuntimeError, "capacitor_params[k_us_per_v2]: expected g(v_max_v) = k_us_per_v2 (v_max_v - v_t_v)^read_exponent within float32's range"),
    BadInput("configs", lambda: torch.ops.analogtorch.pcm_program(G, RNG, pcm_params_with(set_step_d2d=1.0), True), RuntimeError, "pcm_params[set_step_d2d]: expected a number in [0, 1)"),
    BadInput("configs", lambda: torch.ops.analogtorch.pcm_program(G, RNG, pcm_params_with(t_read_s=1e-46), True), RuntimeError, "pcm_params[t_read_s]: expected a number > 0 (in float32 at least"),
    BadInput("configs", lambda: transfer(offset=13.0), RuntimeError, "offset_us: expected <= half the capacitor's upward swing g(v_max_v) - g(v_init_v) (25 uS), got 13"),
    BadInput("values", lambda: ops.pcm_read(G, NU, RNG, 1.0, t_read_s=1e-46), RuntimeError, "t_read_s: expected a finite number > 0 (in float32 at least"),
    BadInput("values", lambda: step(v_leak_v=1.5), RuntimeError, "v_leak_v: expected a voltage within the rails [0, 1], got 1.5"),

    # --- in-place ops: an updated tensor may share no memory with another argument ------------------
    BadInput("values", lambda: aliased_step("weight"), RuntimeError, "v_c: expected a tensor sharing no memory with weight (v_c is updated in place)"),
    BadInput("values", lambda: aliased_step("g_minus_us"), RuntimeError, "v_c: expected a tensor sharing no memory with g_minus_us"),
    BadInput("values", lambda: aliased_pair_step("g_minus_us"), RuntimeError, "g_plus_us: expected a tensor sharing no memory with g_minus_us"),
    BadInput("values", lambda: aliased_pair_step("delta_w_us"), RuntimeError, "weight: expected a tensor sharing no memory with delta_w_us"),

    # --- program, set_time, analog_stats ----------------------------------------------------------
    BadInput("configs", lambda: analogtorch.set_time(model(), 1.0), RuntimeError, "not programmed"),
    BadInput("values", lambda: analogtorch.set_time(programmed(), -1.0), ValueError, "seconds: expected a number of seconds in [0, 3.2e+09] (a century), got -1.0"),
    BadInput("values", lambda: analogtorch.set_time(programmed(), float("nan")), ValueError, "seconds: expected a number of seconds in [0, 3.2e+09] (a century), got nan"),
    BadInput("values", lambda: analogtorch.set_time(programmed(), float("inf")), ValueError, "seconds: expected a number of seconds in [0, 3.2e+09] (a century), got inf"),
    BadInput("dtypes", lambda: analogtorch.set_time(programmed(), "1"), TypeError, "seconds: expected a number, got str"),
    BadInput("dtypes", lambda: analogtorch.set_time(programmed(), True), TypeError, "seconds: expected a number, got bool"),
    BadInput("dtypes", lambda: analogtorch.set_time(object(), 1.0), TypeError, "model: expected an nn.Module, got object"),
    BadInput("configs", lambda: analogtorch.set_time(nn.Sequential(nn.Linear(2, 2)), 1.0), ValueError, "model: it holds no analog layer"),
    BadInput("configs", lambda: analogtorch.program(nn.Sequential(nn.Linear(2, 2))), ValueError, "model: it holds no analog layer (convert it with analogtorch.convert_to_analog)"),
    BadInput("configs", lambda: analogtorch.program(model(), pcm="open_loop"), TypeError, "pcm: expected a PCMDevice, got str"),
    BadInput("dtypes", lambda: analogtorch.program(5), TypeError, "model: expected an nn.Module, got int"),
    BadInput("dtypes", lambda: analogtorch.analog_stats("model"), TypeError, "model: expected an nn.Module, got str"),
    BadInput("configs", lambda: analogtorch.analog_stats(nn.Linear(2, 2)), ValueError, "model: it holds no analog layer"),

    # --- convert_to_analog, convert_to_digital ----------------------------------------------------
    BadInput("dtypes", lambda: analogtorch.convert_to_analog(5, presets.ideal()), TypeError, "model: expected an nn.Module, got int"),
    BadInput("configs", lambda: analogtorch.convert_to_analog(nn.Linear(2, 2), "ideal"), TypeError, "config: expected an analogtorch.presets.AnalogConfig, got str"),
    BadInput("configs", lambda: analogtorch.convert_to_analog(nn.Linear(2, 2), None), TypeError, "config: expected an analogtorch.presets.AnalogConfig, got NoneType"),
    BadInput("values", lambda: analogtorch.convert_to_analog(nn.Sequential(nn.Linear(2, 2)), presets.ideal(), exclude=["nope"]), ValueError, "exclude: no module named ['nope'] in the model"),
    BadInput("dtypes", lambda: analogtorch.convert_to_digital(5), TypeError, "model: expected an nn.Module, got int"),

    # --- AnalogSGD: its own check, then torch.optim.SGD's -----------------------------------------
    BadInput("values", lambda: AnalogSGD(nn.Linear(2, 2).parameters(), lr=-1.0), ValueError, "Invalid learning rate: -1.0"),
    BadInput("values", lambda: AnalogSGD(nn.Linear(2, 2).parameters(), lr=0.1, momentum=-1.0), ValueError, "Invalid momentum value: -1.0"),
    BadInput("values", lambda: AnalogSGD(nn.Linear(2, 2).parameters(), lr=0.1, weight_decay=-1.0), ValueError, "Invalid weight_decay value: -1.0"),
    BadInput("values", lambda: AnalogSGD(nn.Linear(2, 2).parameters(), lr=0.1, nesterov=True), ValueError, "Nesterov momentum requires a momentum and zero dampening"),
    BadInput("values", lambda: AnalogSGD([], lr=0.1), ValueError, "optimizer got an empty parameter list"),
    BadInput("values", lambda: AnalogSGD(nn.Linear(2, 2).parameters(), lr=0.1, nonfinite_grads="ignore"), ValueError, "nonfinite_grads: expected 'raise' or 'skip', got 'ignore'"),

    # --- data loader ------------------------------------------------------------------------------
    # open() of a missing path: Python's own error, naming the path
    BadInput("files", lambda: load_idx("missing-idx1-ubyte"), FileNotFoundError, "No such file or directory: 'missing-idx1-ubyte'"),
    BadInput("files", lambda: load_idx("missing-idx1-ubyte.gz"), FileNotFoundError, "No such file or directory: 'missing-idx1-ubyte.gz'"),
    BadInput("files", lambda: load_idx("."), IsADirectoryError, "Is a directory"),
    BadInput("files", lambda: load_idx(write("empty", b"")), ValueError, "empty: not an idx file (magic bytes )"),
    BadInput("files", lambda: load_idx(write("short", b"\x00\x00")), ValueError, "short: not an idx file (magic bytes 0000)"),
    BadInput("files", lambda: load_idx(write("text", b"not idx")), ValueError, "text: not an idx file (magic bytes 6e6f7420)"),
    BadInput("files", lambda: load_idx(write("magic", b"\x01\x00\x08\x01" + bytes(8))), ValueError, "magic: not an idx file (magic bytes 01000801)"),
    BadInput("files", lambda: load_idx(write("type", idx(0x0A, (4,)))), ValueError, "type: not an idx file (magic bytes 00000a01)"),
    BadInput("files", lambda: load_idx(write("sizes", b"\x00\x00\x08\x03" + struct.pack(">i", 2))), ValueError, "sizes: truncated header (3 sizes announced, 4 bytes found)"),
    BadInput("files", lambda: load_idx(write("truncated", idx(0x08, (10,), bytes(7)))), ValueError, "truncated: expected 10 bytes of data for shape (10,), found 7"),
    BadInput("files", lambda: load_idx(write("long", idx(0x08, (10,), bytes(12)))), ValueError, "long: expected 10 bytes of data for shape (10,), found 12"),
    BadInput("files", lambda: load_idx(write("int32", idx(0x0C, (2, 3), bytes(20)))), ValueError, "int32: expected 24 bytes of data for shape (2, 3), found 20"),
    BadInput("files", lambda: load_idx(write("plain.gz", idx(0x08, (4,)))), ValueError, "plain.gz: not a readable gzip file (Not a gzipped file"),
    BadInput("files", lambda: load_idx(write("cut.gz", gzip.compress(idx(0x08, (1000,)))[:-12])), ValueError, "cut.gz: not a readable gzip file (Compressed file ended"),
    BadInput("files", lambda: load_image_dataset("missing-dir"), FileNotFoundError, "train-images-idx3-ubyte(.gz) not found in missing-dir"),
    BadInput("files", lambda: load_image_dataset(".", "test"), FileNotFoundError, "t10k-images-idx3-ubyte(.gz) not found in .. Fashion-MNIST comes with Debian's package dataset-fashion-mnist"),
    BadInput("files", lambda: load_image_dataset(dataset(idx(0x08, (5, 28, 28)), None)), FileNotFoundError, "train-labels-idx1-ubyte(.gz) not found in data"),
    BadInput("files", lambda: load_image_dataset(dataset(b"not idx", b"\x00\x00\x08\x01")), ValueError, "not an idx file"),
    BadInput("files", lambda: load_image_dataset(dataset(idx(0x08, (5, 28, 28)), idx(0x08, (4,)))), ValueError, "data: images (5, 28, 28) and labels (4,) do not match"),
    BadInput("files", lambda: load_image_dataset(dataset(idx(0x08, (5,)), idx(0x08, (5,)))), ValueError, "data: images (5,) and labels (5,) do not match"),
    BadInput("values", lambda: load_image_dataset(".", "validation"), ValueError, "split: expected 'train' or 'test', got 'validation'"),

    # --- command line -----------------------------------------------------------------------------
    BadInput("values", lambda: cli("compare", "--epochs", "0"), ValueError, "--epochs: expected an integer >= 1, got 0"),
    BadInput("values", lambda: cli("compare", "--batch-size", "0"), ValueError, "--batch-size: expected an integer >= 1, got 0"),
    BadInput("values", lambda: cli("compare", "--reads", "0"), ValueError, "--reads: expected an integer >= 1, got 0"),
    BadInput("values", lambda: cli("compare", "--lr", "-1"), ValueError, "--lr: expected a finite number > 0, got -1.0"),
    BadInput("values", lambda: cli("compare", "--lr", "nan"), ValueError, "--lr: expected a finite number > 0, got nan"),
    BadInput("values", lambda: cli("compare", "--limit", "-1"), ValueError, "--limit: expected an integer >= 0, got -1"),
    BadInput("values", lambda: cli("compare", "--hidden", "16", "0"), ValueError, "--hidden: expected layer sizes >= 1, got [16, 0]"),
    BadInput("files", lambda: cli("compare", "--config", "missing.json"), FileNotFoundError, "No such file or directory: 'missing.json'"),
    BadInput("files", lambda: cli("compare", "--config", str(write("bad.json", b"{ambrogio2018: {}}"))), json.JSONDecodeError, "Expecting property name enclosed in double quotes"),
    BadInput("files", lambda: cli("compare", "--data", "missing-dir"), FileNotFoundError, "train-images-idx3-ubyte(.gz) not found in missing-dir"),
    BadInput("configs", lambda: cli("compare", "--config", str(write("keys.json", b'{"analog": {}}'))), ValueError, "--config: keys must be analog preset names ['ambrogio2018', 'hardware_aware', 'ideal', 'pcm_only'], got ['analog']"),
    BadInput("configs", lambda: _apply_overrides(presets.ambrogio2018(), {"nope": 1}), ValueError, "--config: UnitCellConfig has no field 'nope'"),
    BadInput("configs", lambda: _apply_overrides(presets.ambrogio2018(), {"unit_cell": {"pcm": {"g_max": 30}}}), ValueError, "--config: PCMDevice has no field 'g_max'"),
    BadInput("configs", lambda: _apply_overrides(presets.ambrogio2018(), {"unit_cell": {"transfer_every": 0}}), ValueError, "transfer_every: expected an int >= 1, got 0"),
    BadInput("values", lambda: cli("demo", "--rows", "0"), ValueError, "--rows: expected an integer >= 1, got 0"),
    BadInput("values", lambda: cli("demo", "--cols", "-1"), ValueError, "--cols: expected an integer >= 1, got -1"),
]
# fmt: on


def _ids() -> list[str]:
    counts = dict.fromkeys(CATEGORIES, 0)
    ids = []
    for entry in BAD_INPUTS:
        counts[entry.category] = counts.get(entry.category, 0) + 1
        words = (
            re.sub(r"[^0-9A-Za-z_]+", "_", entry.message).strip("_")[:48].rstrip("_")
        )
        ids.append(f"{entry.category}-{counts[entry.category]:03d}-{words}")
    return ids


def test_every_entry_is_well_formed():
    for entry in BAD_INPUTS:
        assert entry.category in CATEGORIES, entry
        assert isinstance(entry.error, type) and issubclass(
            entry.error, BaseException
        ), entry
        assert callable(entry.call) and entry.message, entry


# A refused call leaves everything as it was: the shared inputs that entries pass (bytes equal),
# the parameter lists, and the files of the working directory.
SHARED_TENSORS = {"RNG": RNG, "G": G, "NU": NU, "V": V, "D": D, "VAR": VAR, "X": X}


def _shared_state() -> dict[str, object]:
    state: dict[str, object] = {name: t.clone() for name, t in SHARED_TENSORS.items()}
    state["PCM_PARAMS"], state["CAP_PARAMS"] = list(PCM_PARAMS), list(CAP_PARAMS)
    return state


def _files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def assert_state_unchanged(before: dict[str, object]) -> None:
    for name, old in before.items():
        new = SHARED_TENSORS.get(name, PCM_PARAMS if name == "PCM_PARAMS" else CAP_PARAMS)
        if isinstance(old, torch.Tensor):
            assert old.dtype == new.dtype and old.shape == new.shape and torch.equal(old, new), f"{name} changed"
        else:
            assert old == new, f"{name} changed"


@pytest.mark.parametrize("entry", BAD_INPUTS, ids=_ids())
def test_bad_input_is_refused_with_its_error(entry, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # files entries write here
    before = _shared_state()
    with pytest.raises(entry.error, match=re.escape(entry.message)) as info:
        entry.call()
    assert type(info.value) is entry.error, (
        f"raised {type(info.value).__name__}, the table says {entry.error.__name__}"
    )
    assert_state_unchanged(before)
    # A refused save writes nothing: no temporary file is left beside the files the entry made.
    assert not [name for name in _files(tmp_path) if name.endswith(".tmp")]


def test_reads_let_bad_values_propagate():
    nan, inf = float("nan"), float("inf")
    before = _shared_state()
    mean, variance, _ = ops.hardware_aware_read(G.clone().fill_(nan), RNG)
    assert torch.isnan(mean).all() and torch.isnan(variance).all()  # never a programmed (clipped) conductance
    mean, variance, _ = ops.hardware_aware_read(torch.tensor([inf, -inf, 5.0]), RNG)
    assert mean[0] == inf and mean[1] == -inf and torch.isfinite(mean[2]) and variance[:2].eq(inf).all()
    # Outside the physics the laws still apply: before t0 nothing drifts.
    assert torch.equal(ops.pcm_read_moments(G + 30.0, NU, 1.0)[0], G + 30.0)
    assert all(torch.isnan(t).all() for t in ops.pcm_read_moments(G, NU.clone().fill_(nan), 1.0))
    assert torch.isnan(ops.add_read_noise(G, -NU, RNG)).all()  # no standard deviation: NaN
    assert ops.add_read_noise(G.clone().fill_(inf), NU, RNG).eq(inf).all()
    assert torch.isnan(ops.add_read_noise(G, NU.clone().fill_(nan), RNG)).all()
    assert torch.isfinite(ops.pcm_read(G, -NU, RNG, 1.0)).all()
    assert torch.isfinite(ops.pcm_read(G + 30.0, NU, RNG, 1.0)).all()
    assert torch.isnan(ops.pcm_read(G.clone().fill_(nan), NU, RNG, 1.0)).all()  # never floored to 0
    assert torch.isnan(ops.quantize(torch.tensor([nan]), RNG)).all()
    y = layer(presets.ambrogio2018())(torch.tensor([[1.0, nan, 0.0, 0.0], [1.0, 0.5, 0.0, 0.0]]))
    assert torch.isnan(y[0]).all() and torch.isfinite(y[1]).all()
    assert_state_unchanged(before)
