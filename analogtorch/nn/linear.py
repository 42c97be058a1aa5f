"""``AnalogLinear``: a drop-in for ``nn.Linear`` whose weights live on simulated analog hardware.

Modes (``AnalogConfig.mode``, see :mod:`analogtorch.presets`):

- ``ideal``: exactly ``nn.Linear``.
- ``hardware_aware``: digital master weights (any optimizer); every training forward reads them
  as PCM would (programming noise, drift to a time sampled in the configured window, global drift
  compensation, read noise) through the converters; gradients pass straight through the noise.
- ``in_situ``: every weight is a 2PCM + 3T1C unit cell (Ambrogio et al. 2018). ``weight`` is the
  cached effective weight of the cells; only ``analogtorch.optim.AnalogSGD`` changes it, through
  capacitor pulses, leakage and periodic transfers into the PCM pair.
- ``pcm_only``: every weight is a bare PCM pair trained in situ with partial-SET pulses and
  occasional refresh (the paper's foil); ``weight`` is again the cached effective weight.

Deployment (every mode): :meth:`AnalogLinear.program` writes the current weights into PCM pairs
(PHYSICS.md section 2) and :meth:`AnalogLinear.set_time` moves the layer to a time after
programming; every forward then reads the drifted devices with fresh read noise.
"""

from __future__ import annotations

import dataclasses
import math
import weakref
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .. import _ops as ops
from ..config import PCMDevice
from ..presets import AnalogConfig, hardware_aware

__all__ = ["AnalogLinear", "device_owner"]

_STATE_FORMAT = 2
_CALIBRATION_BATCH = 64
DEVICE_MODES = ("in_situ", "pcm_only")  # the weights live in the simulated devices

# Weights held by devices -> their layer, for AnalogSGD: keyed by identity (tensors compare
# elementwise), holding both weakly. A registry rather than an attribute on the Parameter, so that
# copies and pickles of a layer register themselves anew.
_DEVICE_OWNERS: dict[int, tuple[weakref.ref, weakref.ref]] = {}


def _register_owner(param: torch.Tensor, layer: "AnalogLinear") -> None:
    key = id(param)
    _DEVICE_OWNERS[key] = (weakref.ref(param, lambda _: _DEVICE_OWNERS.pop(key, None)), weakref.ref(layer))


def device_owner(param: torch.Tensor) -> "AnalogLinear | None":
    """The layer whose devices hold ``param``, or None for a digital parameter."""
    entry = _DEVICE_OWNERS.get(id(param))
    if entry is None or entry[0]() is not param:
        return None
    return entry[1]()


def _config_fields(config: Any, prefix: str = "") -> dict[str, Any]:
    """A configuration as flat {"unit_cell.pcm.g_max_us": 25.0, ...}: plain values that a
    checkpoint can hold (``torch.load(weights_only=True)``) and that two configs can be diffed by."""
    fields = {}
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            fields.update(_config_fields(value, f"{prefix}{field.name}."))
        else:
            fields[prefix + field.name] = value
    return fields


def _programmable_range_us(pcm: PCMDevice) -> float:
    """The conductance the largest weight is mapped to: target_clip_us in closed loop, G_max open."""
    return pcm.target_clip_us if pcm.programming == "closed_loop" else pcm.g_max_us


def _read_noise_growth(time_s: float, pcm: PCMDevice) -> float:
    """sqrt(ln((t + t_r) / (2 t_r))), 0 before t_r: how the 1/f read noise of a device grows with the
    time since its programming (pcm::read_time in pcm.h, evaluated once per read on the host)."""
    return math.sqrt(max(math.log((time_s + pcm.t_read_s) / (2.0 * pcm.t_read_s)), 0.0))


# In-situ training computes the devices' read-noise variance at this time after programming and
# scales it to the time since the last transfer (the noise grows as _read_noise_growth).
_VARIANCE_REFERENCE_S = 1.0


class _ReadWithTransposedNoise(torch.autograd.Function):
    """``y = x W^T`` whose backward is the array's transposed read (in-situ training): the gradient of
    the input carries the devices' read noise, N(0, sum_i sigma_ij^2 grad_y_i^2) for input j. The
    gradient of the weight is exact: the hardware applies it as pulses, it does not read it."""

    @staticmethod
    def forward(ctx, x, weight, variance, rng):
        ctx.save_for_backward(x, weight, variance, rng)
        return F.linear(x, weight)

    @staticmethod
    def backward(ctx, grad_y):
        x, weight, variance, rng = ctx.saved_tensors
        grad_x = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_x = grad_y.matmul(weight)
            # A fresh draw for the backward read: the step's top bit separates it from forward draws.
            backward_rng = rng.clone()
            backward_rng[1] += 1 << 39
            with torch.no_grad():
                noise_variance = grad_y.square().matmul(variance)
            grad_x = ops.add_read_noise(grad_x.contiguous(), noise_variance.contiguous(), backward_rng)
        if ctx.needs_input_grad[1]:
            grad_weight = grad_y.reshape(-1, grad_y.shape[-1]).t().matmul(x.reshape(-1, x.shape[-1]))
        return grad_x, grad_weight, None, None


def _converter(x: torch.Tensor, rng: torch.Tensor, bits: int, bound: float, noise: float) -> torch.Tensor:
    """A DAC or ADC read (clip, noise, rounding) with a straight-through gradient; off when bits = 0
    and noise = 0."""
    if bits == 0 and noise == 0.0:
        return x
    return ops.quantize(x.contiguous(), rng, bits=bits, bound=bound, noise_std=noise)


class _BackwardConverter(torch.autograd.Function):
    """Identity forward; in the backward, the transposed read of the array hands its result (the
    gradient of the input) through an ADC of the same kind as the forward's (PHYSICS.md section 3),
    its range set by the gradient's largest magnitude."""

    @staticmethod
    def forward(ctx, x, rng, bits, noise):
        ctx.save_for_backward(rng)
        ctx.bits, ctx.noise = bits, noise
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        (rng,) = ctx.saved_tensors
        if grad.numel() == 0:
            return grad, None, None, None
        # A fresh draw for the backward read: the step's top bit separates it from forward draws.
        backward_rng = rng.clone()
        backward_rng[1] += 1 << 39
        with torch.no_grad():
            # The converter's range follows the gradient's largest magnitude (no host sync: the
            # gradient is normalised, converted on [-1, 1] and scaled back).
            largest = grad.abs().amax().clamp(min=1e-30)
            normalised = (grad / largest).contiguous().float()
            grad = ops.quantize(normalised, backward_rng, bits=ctx.bits, bound=1.0, noise_std=ctx.noise) * largest
        return grad, None, None, None


class AnalogLinear(nn.Module):
    """``y = x W^T + b`` computed as analog hardware would (see the module docstring).

    Same constructor, attributes and ``reset_parameters`` as ``nn.Linear``, plus ``config``
    (default: :func:`analogtorch.presets.hardware_aware`). The device state is in buffers and in
    ``get_extra_state``, so ``state_dict`` carries all of it.

    Shapes: input ``[*, in_features]``, output ``[*, out_features]``.
    """

    __constants__ = ["in_features", "out_features"]
    in_features: int
    out_features: int

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        config: AnalogConfig | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
            if value < 0:
                raise ValueError(f"{name}: expected an int >= 0, got {value}")
        if config is None:
            config = hardware_aware()
        if not isinstance(config, AnalogConfig):
            raise TypeError(f"config: expected an analogtorch.presets.AnalogConfig, got {type(config).__name__}")
        if config.mode != "ideal" and dtype not in (None, torch.float32):
            raise ValueError(f"dtype: the {config.mode} mode simulates float32 devices, got {dtype}")
        if config.mode in DEVICE_MODES and device is not None and torch.device(device).type == "meta":
            raise ValueError(f"device: the {config.mode} mode programs its devices when built; it needs a real device, got meta")
        self.in_features, self.out_features, self.config = in_features, out_features, config
        factory = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty((out_features, in_features), **factory))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features, **factory))
        else:
            self.register_parameter("bias", None)

        shape = (out_features, in_features)
        state = {"device": device, "dtype": torch.float32}
        self.register_buffer("rng_state", ops.make_rng_state(int(config.seed), device=device))
        if config.mode in DEVICE_MODES:
            self.register_buffer("g_plus_us", torch.empty(shape, **state))
            self.register_buffer("g_minus_us", torch.empty(shape, **state))
        if config.mode == "in_situ":
            self.register_buffer("v_c", torch.empty(shape, **state))
            self.register_buffer("variation", torch.empty((*shape, 3), device=device, dtype=torch.int8))
        self._polarity = 1
        self._scale_us_per_unit = 1.0
        self._pending_examples = 0
        self._examples_since_transfer = 0
        self._time_since_programming_s = 0.0
        # What the simulated hardware did (analogtorch.hardware turns these into energy and time):
        # array reads (vectors through the array, forward and transposed), converter operations,
        # updates and their capacitor pulses, transfers, PCM programming pulses and verify reads.
        self._counters = {"examples": 0, "forward_reads": 0, "backward_reads": 0, "dac_conversions": 0,
                          "adc_conversions": 0, "updates": 0, "pulses": 0, "transfers": 0, "refreshes": 0,
                          "programming_pulses": 0, "programming_iterations": 0, "simulated_seconds": 0.0}  # fmt: skip
        self._weight_version = -1
        # In-situ modes: the PCM read-noise variance per weight at _VARIANCE_REFERENCE_S, recomputed
        # after anything that changes the devices (None: due).
        self._pcm_read_variance: torch.Tensor | None = None
        # Hardware-aware training with device_noise_every > 1: the last draw (deviation from the
        # clipped weights, read-noise variance, clip bound) and the forwards that used it.
        self._device_noise: dict[str, Any] | None = None
        # Deployment state (program / set_time): None until programmed.
        self._deployed: dict[str, Any] | None = None
        self._register_device_weight()
        self.reset_parameters()

    def _register_device_weight(self) -> None:
        if self.config.mode in DEVICE_MODES:
            _register_owner(self.weight, self)  # AnalogSGD updates it through the devices

    def __setstate__(self, state: dict) -> None:  # copy.deepcopy and unpickling
        super().__setstate__(state)
        self._register_device_weight()
        for cache in ("_pcm_read_variance", "_device_noise"):  # absent from layers pickled before them
            self.__dict__.setdefault(cache, None)

    def _apply(self, fn, recurse=True):
        # .to() / .cuda() also move the deployment state, which is not a buffer.
        super()._apply(fn, recurse)
        self._register_device_weight()
        self._pcm_read_variance = None
        self._device_noise = None
        if self._deployed is not None:
            for key, value in self._deployed.items():
                if isinstance(value, torch.Tensor):
                    self._deployed[key] = fn(value)
        return self

    # ------------------------------------------------------------------------------------------
    # Initialisation
    # ------------------------------------------------------------------------------------------

    def reset_parameters(self) -> None:
        """``nn.Linear``'s initialisation; device-held layers then program it into their devices."""
        self._device_noise = None
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            nn.init.uniform_(self.bias, -bound, bound)
        if self.config.mode in DEVICE_MODES:
            with torch.no_grad():
                self._program_unit_cells(self.weight.detach())

    def _next_rng(self) -> torch.Tensor:
        """The rng state for one use, then a step further: every use draws fresh numbers."""
        state = self.rng_state.clone()
        self.rng_state[1] += 1
        return state

    def _program_pairs(
        self, weight_us: torch.Tensor, pcm: PCMDevice, *, count_work: bool = True
    ) -> tuple[ops.ProgrammingResult, ops.ProgrammingResult]:
        """Programs PCM pairs to hold ``weight_us`` (in uS of G+ - G-); returns the G+ and G- results.

        Closed loop (program-and-verify from RESET): the device on each weight's side is programmed
        to |w| + g_reset, so that the RESET partner's g_reset cancels; open loop: the Joshi et al.
        mapping G+ = max(w, 0), G- = max(-w, 0), both with programming noise. The devices of cell i
        are 2i and 2i+1, as in the transfer kernel.
        """
        rng = self._next_rng()
        weight_us = weight_us.contiguous()
        closed = pcm.programming == "closed_loop"
        offset = pcm.g_reset_us if closed else 0.0
        plus = ops.pcm_program(weight_us.clamp(min=0) + offset, rng, pcm, device_stride=2, device_offset=0)
        minus = ops.pcm_program((-weight_us).clamp(min=0) + offset, rng, pcm, device_stride=2, device_offset=1)
        if closed:  # the zero side stays RESET and did no work
            positive = weight_us > 0
            plus = plus._replace(conductance_us=torch.where(positive, plus.conductance_us, offset))
            minus = minus._replace(conductance_us=torch.where(positive, offset, minus.conductance_us))
            used = (positive, ~positive)
        else:
            used = (torch.ones_like(weight_us, dtype=torch.bool),) * 2
        if count_work:
            for result, mask in zip((plus, minus), used):
                self._counters["programming_pulses"] += int(result.pulses[mask].sum(dtype=torch.int64))
                self._counters["programming_iterations"] += int(result.iterations[mask].sum(dtype=torch.int64))
        return plus, minus

    @staticmethod
    def _inference_scale(weight: torch.Tensor, pcm: PCMDevice) -> float:
        """uS per network unit for inference (PHYSICS.md section 2): the largest weight uses the
        programmable range (G_max; target_clip_us in closed loop)."""
        largest = weight.abs().max().item() if weight.numel() else 0.0
        return _programmable_range_us(pcm) / max(largest, 1e-12)

    def _program_unit_cells(self, weight: torch.Tensor) -> None:
        """Maps weights onto fresh devices: scale so that the largest weight uses
        ``weight_range_fraction`` of the pair's programmable range F * target_clip_us."""
        cell = self.config.unit_cell
        pcm, cap = cell.pcm, cell.capacitor
        largest = weight.abs().max().item() if weight.numel() else 0.0
        self._scale_us_per_unit = cell.weight_range_fraction * cell.gain_f * pcm.target_clip_us / max(largest, 1e-12)
        target_us = weight.float() * self._scale_us_per_unit / cell.gain_f
        plus, minus = self._program_pairs(target_us, pcm)
        self.g_plus_us.copy_(plus.conductance_us)
        self.g_minus_us.copy_(minus.conductance_us)
        if self.config.mode == "in_situ":
            self.v_c.fill_(cap.v_init_v)
            self.variation.copy_(ops.cell_variation(self._next_rng(), target_us.shape))
        self._polarity = 1
        self._examples_since_transfer = 0
        self._time_since_programming_s = 0.0
        self._pcm_read_variance = None
        self._refresh_weight()

    def _device_weight(self) -> torch.Tensor:
        """The effective weight that the devices hold now."""
        in_situ = self.config.mode == "in_situ"
        return self._weight_held(
            self.g_plus_us, self.g_minus_us, self.v_c if in_situ else None, self.variation if in_situ else None,
            self._polarity, self._scale_us_per_unit,
        )  # fmt: skip

    def _weight_held(self, g_plus, g_minus, v_c, variation, polarity: int, scale_us_per_unit: float) -> torch.Tensor:
        """The effective weight of a device state (this layer's, or one being loaded)."""
        cell = self.config.unit_cell
        if self.config.mode == "pcm_only":
            return cell.gain_f * (g_plus - g_minus) / scale_us_per_unit
        return ops.unit_cell_weight(
            g_plus, g_minus, v_c, variation, polarity,
            gain_f=cell.gain_f, scale_us_per_unit=scale_us_per_unit, capacitor=cell.capacitor,
        )  # fmt: skip

    def _refresh_weight(self) -> None:
        """Recomputes the cached effective weight from the devices."""
        self.weight.data.copy_(self._device_weight())
        self._weight_version = self.weight._version

    # ------------------------------------------------------------------------------------------
    # Forward
    # ------------------------------------------------------------------------------------------

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"input: expected a Tensor, got {type(x).__name__}")
        if x.dim() == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"input: expected shape [*, {self.in_features}], got {list(x.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"input: expected a floating-point tensor, got {x.dtype}")
        if x.device != self.weight.device:
            raise ValueError(f"input: expected a tensor on the layer's device ({self.weight.device}), got {x.device}")
        if self.config.mode == "ideal" and self._deployed is None:
            if x.dtype != self.weight.dtype and not torch.is_autocast_enabled(x.device.type):
                raise TypeError(f"input: expected {self.weight.dtype}, the layer's dtype (as nn.Linear), got {x.dtype}")
            return F.linear(x, self.weight, self.bias)
        if self._deployed is not None:
            return self._deployed_forward(x)
        if self.config.mode in DEVICE_MODES:
            self._check_weight_untouched()
            if self.training and torch.is_grad_enabled():  # examples that will reach an optimizer step
                self._pending_examples += x.numel() // max(self.in_features, 1)
            return self._read(x, self.weight, self._in_situ_read_variance())
        # hardware_aware
        if not self.training:
            return self._read(x, self.weight)
        weight, variance = self._hardware_aware_weight()
        return self._read(x, weight, variance)

    def _read(
        self,
        x: torch.Tensor,
        weight: torch.Tensor,
        variance: torch.Tensor | None = None,
        output_scale: float | torch.Tensor = 1.0,
    ) -> torch.Tensor:
        """One read of the array: DAC, matrix-vector products with the devices' read noise (the
        variance of each weight's read, in network units), ADC with output noise, then the digital
        output scale and bias. The backward read sees the same converters when configured."""
        periphery = self.config.periphery
        self._count_reads(x)
        rng = self._next_rng()
        # The devices compute in float32 whatever autocast would choose (bf16/fp16 inputs are cast up).
        with torch.autocast(device_type=x.device.type, enabled=False):
            x = x.float()
            x = _converter(x, rng, periphery.in_bits, periphery.in_bound, 0.0)
            if periphery.backward_like_forward and torch.is_grad_enabled() and x.requires_grad:
                x = _BackwardConverter.apply(x, rng, periphery.out_bits, periphery.out_noise)
            transposed_read = self.config.mode in DEVICE_MODES and torch.is_grad_enabled()
            if variance is not None and transposed_read:
                y = _ReadWithTransposedNoise.apply(x, weight, variance, rng)
            else:
                y = F.linear(x, weight)
            if variance is not None:
                # Independent device noises sum per output: N(0, sum_j sigma_ij^2 x_j^2), one more GEMM.
                with torch.no_grad():
                    output_variance = F.linear(x.detach().square(), variance)
                y = ops.add_read_noise(y, output_variance, rng)
            y = _converter(y, rng, periphery.out_bits, periphery.out_bound, periphery.out_noise)
        if not isinstance(output_scale, float) or output_scale != 1.0:
            y = y * output_scale
        return y if self.bias is None else y + self.bias

    def _in_situ_read_variance(self) -> torch.Tensor | None:
        """The variance of each weight's PCM read during in-situ training (network units^2), at the
        time since the devices were last programmed; None without read noise. Within a transfer
        interval (milliseconds) the devices do not drift (t0 = 20 s). The 3T1C capacitor's read is
        taken as noiseless: no public figure."""
        pcm = self.config.unit_cell.pcm
        if not pcm.read_noise:
            return None
        base = None if torch.compiler.is_compiling() else self._pcm_read_variance
        if base is None:
            kwargs = {"g_max_us": pcm.g_max_us, "t0_s": pcm.t0_s, "t_read_s": pcm.t_read_s}
            no_drift = torch.zeros_like(self.g_plus_us)
            _, plus = ops.pcm_read_moments(self.g_plus_us, no_drift, _VARIANCE_REFERENCE_S, **kwargs)
            _, minus = ops.pcm_read_moments(self.g_minus_us, no_drift, _VARIANCE_REFERENCE_S, **kwargs)
            base = (plus + minus) * (self.config.unit_cell.gain_f / self._scale_us_per_unit) ** 2
            if not torch.compiler.is_compiling():
                self._pcm_read_variance = base
        growth = _read_noise_growth(self._time_since_programming_s, pcm) / _read_noise_growth(_VARIANCE_REFERENCE_S, pcm)
        return base * growth**2

    def _count_reads(self, x: torch.Tensor) -> None:
        """Counts the array reads of one forward: each input vector is one read (one DAC conversion
        per row, one ADC conversion per column); in in-situ training the transposed read of the
        backward pass follows, with the converters swapped."""
        vectors = x.numel() // max(self.in_features, 1)
        periphery, counters = self.config.periphery, self._counters
        dac = periphery.in_bits > 0
        adc = periphery.out_bits > 0 or periphery.out_noise > 0
        counters["forward_reads"] += vectors
        counters["dac_conversions"] += vectors * self.in_features * dac
        counters["adc_conversions"] += vectors * self.out_features * adc
        if self.config.mode in DEVICE_MODES and self.training and torch.is_grad_enabled():
            counters["backward_reads"] += vectors
            counters["dac_conversions"] += vectors * self.out_features * dac
            counters["adc_conversions"] += vectors * self.in_features * adc

    def _hardware_aware_weight(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The weights as PCM would hold them at a random time of the training window (PHYSICS.md
        section 4), with a straight-through gradient to the digital weights, and the variance of
        their read noise (None without). A fresh device every ``device_noise_every`` forwards; in
        between, the last device's deviation is added to the current weights. Tensor operations and
        one fused op only (no host synchronisation): torch.compile captures it whole (it draws a
        fresh device every forward)."""
        config = self.config
        weight = self.weight
        reuse = config.device_noise_every > 1 and not torch.compiler.is_compiling()
        noise = self._device_noise if reuse else None
        if noise is None or noise["forwards"] >= config.device_noise_every:
            noise = self._draw_device_noise()
            if reuse:
                self._device_noise = noise
        noise["forwards"] += 1
        bound = noise["bound"]
        # Clipping passes no gradient beyond the bound; the device noise passes it straight through.
        return torch.clamp(weight, -bound, bound) + noise["deviation"], noise["variance"]

    @torch.no_grad()
    def _draw_device_noise(self) -> dict[str, Any]:
        """Programs the clipped weights into fresh PCM pairs and reads them at a random time of the
        training window: their deviation from the clipped weights, the variance of their read noise
        (network units), and the clip bound."""
        config = self.config
        pcm = config.unit_cell.pcm
        detached = self.weight.detach().float()
        if detached.numel() > 1:
            bound = config.weight_clip_sigmas * detached.std()
        else:
            bound = detached.new_full((), math.inf)
        clipped = torch.clamp(detached, -bound, bound)
        # uS per network unit: the largest weight uses the programmable range (PHYSICS.md section 2);
        # as _inference_scale, in tensors (no host synchronisation).
        largest = clipped.abs().amax().clamp(min=1e-12) if clipped.numel() else clipped.new_ones(())
        scale = _programmable_range_us(pcm) / largest
        window = (max(config.train_time_min_s, 1e-9), max(config.train_time_max_s, 1e-9)) if pcm.drift else (0.0, 0.0)
        mean_us, variance_us2, _ = ops.hardware_aware_read(clipped * scale, self._next_rng(), pcm, time_min_s=window[0],
                                                           time_max_s=window[1])  # fmt: skip
        # Global drift compensation: one scalar restores the mean weight magnitude.
        gain = clipped.abs().mean() / (mean_us / scale).abs().mean().clamp(min=1e-12)
        variance = variance_us2 * (gain / scale).square() if pcm.read_noise else None
        return {"deviation": mean_us * (gain / scale) - clipped, "variance": variance, "bound": bound, "forwards": 0}

    # ------------------------------------------------------------------------------------------
    # In-situ training: called by analogtorch.optim.AnalogSGD
    # ------------------------------------------------------------------------------------------

    def _check_weight_untouched(self) -> None:
        """Refuses a weight that something other than the devices changed (a digital optimizer).
        A write of the same values (DistributedDataParallel's initial broadcast) is accepted."""
        if torch.compiler.is_compiling() or self.weight._version == self._weight_version:
            return
        with torch.no_grad():
            unchanged = torch.equal(self.weight, self._device_weight())
        if unchanged:
            self._weight_version = self.weight._version
        else:
            raise RuntimeError(
                f"AnalogLinear({self.config.mode}): its weight was changed outside the devices (by a digital optimizer or "
                "an in-place write?); train it with analogtorch.optim.AnalogSGD"
            )

    @torch.no_grad()
    def _device_update(self, delta_weight: torch.Tensor) -> None:
        """Applies a requested weight change (network units) through the devices: capacitor pulses
        and leakage over the examples seen since the last update, then a transfer when due."""
        if not torch.isfinite(delta_weight).all():
            raise ValueError("AnalogLinear: the requested weight change holds NaN or Inf; the device state is untouched")
        cell = self.config.unit_cell
        cap = cell.capacitor
        examples, self._pending_examples = self._pending_examples, 0
        elapsed_s = examples * cap.seconds_per_example_s
        delta_us = (delta_weight.float() * self._scale_us_per_unit).contiguous()
        counters = self._counters
        counters["examples"] += examples
        counters["updates"] += 1
        counters["simulated_seconds"] += elapsed_s
        if self.config.mode == "pcm_only":
            pulses, refreshed = ops.pcm_pair_step_(
                self.g_plus_us, self.g_minus_us, self.weight.data, delta_us, self._next_rng(),
                gain_f=cell.gain_f, scale_us_per_unit=self._scale_us_per_unit,
                amplitude=self.config.pcm_update_amplitude, max_pulses=self.config.pcm_update_max_pulses,
                refresh_us=self.config.pcm_refresh_fraction * cell.pcm.g_max_us, pcm=cell.pcm,
            )  # fmt: skip
            self._weight_version = self.weight._version
            self._pcm_read_variance = None
            # The pairs are pulsed, not reprogrammed: their read noise keeps growing with training time.
            self._time_since_programming_s += elapsed_s
            counters["pulses"] += int(pulses.abs().sum(dtype=torch.int64))
            counters["refreshes"] += int(refreshed.sum(dtype=torch.int64))
            return
        pulses = ops.capacitor_step_(
            self.v_c, self.weight.data, self.g_plus_us, self.g_minus_us, self.variation, delta_us,
            self._next_rng(), self._polarity, elapsed_s=elapsed_s, gain_f=cell.gain_f,
            scale_us_per_unit=self._scale_us_per_unit, capacitor=cap,
        )  # fmt: skip
        self._weight_version = self.weight._version
        self._time_since_programming_s += elapsed_s
        self._examples_since_transfer += examples
        counters["pulses"] += int(pulses.abs().sum(dtype=torch.int64))
        if self._examples_since_transfer >= cell.transfer_every:
            self._transfer()

    @torch.no_grad()
    def _transfer(self) -> None:
        """Moves every cell's weight into its PCM pair (the Nature 2018 transfer) and flips the
        capacitor polarity when polarity inversion is on."""
        cell = self.config.unit_cell
        next_polarity = -self._polarity if cell.polarity_inversion else self._polarity
        result = ops.transfer(
            self.g_plus_us, self.g_minus_us, self.v_c, self.variation, self._next_rng(), self._polarity,
            next_polarity=next_polarity, gain_f=cell.gain_f, offset_us=cell.offset_us,
            time_since_programming_s=self._time_since_programming_s, pcm=cell.pcm, capacitor=cell.capacitor,
            keep_weight=cell.transfer_keeps_weight,
        )  # fmt: skip
        self.g_plus_us.copy_(result.g_plus_us)
        self.g_minus_us.copy_(result.g_minus_us)
        self.v_c.copy_(result.v_c)
        self._polarity = next_polarity
        self._examples_since_transfer -= cell.transfer_every  # keep the schedule: every transfer_every examples
        self._time_since_programming_s = 0.0
        self._pcm_read_variance = None
        self._counters["transfers"] += 1
        self._counters["programming_pulses"] += int(result.pulses.sum(dtype=torch.int64))
        self._counters["programming_iterations"] += int(result.iterations.sum(dtype=torch.int64))
        self._refresh_weight()

    # ------------------------------------------------------------------------------------------
    # Deployment
    # ------------------------------------------------------------------------------------------

    @torch.no_grad()
    def program(self, pcm: PCMDevice | None = None) -> None:
        """Programs the current weights into PCM pairs for inference (PHYSICS.md section 2): scale
        G_max / max|w| (the programmable range in closed loop), one device per sign."""
        pcm = self.config.unit_cell.pcm if pcm is None else pcm
        if not isinstance(pcm, PCMDevice):
            raise TypeError(f"pcm: expected a PCMDevice, got {type(pcm).__name__}")
        weight = self.weight.detach().float()
        scale = self._inference_scale(weight, pcm)
        plus, minus = self._program_pairs(weight * scale, pcm, count_work=False)
        generator = torch.Generator().manual_seed(int(self.config.seed) % (2**63))
        calibration = torch.randn(_CALIBRATION_BATCH, self.in_features, generator=generator).clamp(-1, 1)
        self._deployed = {
            "pcm": pcm, "scale": scale, "time_s": 0.0, "compensation": 1.0,
            "g_plus": plus.conductance_us, "nu_plus": plus.drift_nu,
            "g_minus": minus.conductance_us, "nu_minus": minus.drift_nu,
            "calibration": calibration.to(weight.device),
        }  # fmt: skip
        self._deployed["weight"], self._deployed["variance"] = self._deployed_moments(0.0)
        self._deployed["reference"] = self._calibration_response(read_noise=False)
        self.set_time(0.0)

    def _deployed_moments(self, time_s: float) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The programmed weights read at ``time_s``: drifted, and the variance of their read noise
        (None without read noise)."""
        deployed = self._deployed
        pcm = deployed["pcm"]
        time_s = time_s if pcm.drift else 0.0
        kwargs = {"g_max_us": pcm.g_max_us, "t0_s": pcm.t0_s, "t_read_s": pcm.t_read_s}
        mean_plus, variance_plus = ops.pcm_read_moments(deployed["g_plus"], deployed["nu_plus"], time_s, **kwargs)
        mean_minus, variance_minus = ops.pcm_read_moments(deployed["g_minus"], deployed["nu_minus"], time_s, **kwargs)
        scale = deployed["scale"]
        variance = (variance_plus + variance_minus) / scale**2 if pcm.read_noise else None
        return (mean_plus - mean_minus) / scale, variance

    def _calibration_response(self, read_noise: bool) -> float:
        """Mean output magnitude of the calibration inputs at the current time."""
        deployed = self._deployed
        calibration = deployed["calibration"]
        y = F.linear(calibration, deployed["weight"])
        if read_noise and deployed["variance"] is not None:
            y = ops.add_read_noise(y, F.linear(calibration.square(), deployed["variance"]), self._next_rng())
        return y.abs().mean().item()

    @torch.no_grad()
    def set_time(self, time_s: float, *, drift_compensation: bool | None = None) -> None:
        """Moves the programmed layer to ``time_s`` seconds after programming. With drift
        compensation (default: the config's, on in every preset), a calibration read sets the
        output scale."""
        if self._deployed is None:
            raise RuntimeError("set_time: the layer is not programmed; call analogtorch.program(model) first")
        if isinstance(time_s, bool) or not isinstance(time_s, (int, float)):
            raise TypeError(f"time_s: expected a number of seconds, got {type(time_s).__name__}")
        if not math.isfinite(time_s) or time_s < 0:
            raise ValueError(f"time_s: expected a finite number >= 0, got {time_s}")
        deployed = self._deployed
        deployed["time_s"] = float(time_s)
        deployed["weight"], deployed["variance"] = self._deployed_moments(float(time_s))
        if drift_compensation is None:
            drift_compensation = self.config.drift_compensation
        if drift_compensation:
            current = self._calibration_response(read_noise=True)
            deployed["compensation"] = deployed["reference"] / max(current, 1e-30)
        else:
            deployed["compensation"] = 1.0

    def _deployed_forward(self, x: torch.Tensor) -> torch.Tensor:
        # The drifted weights and their read-noise variance are fixed at one time (set_time): a
        # forward is two GEMMs, with fresh read noise for every input vector.
        deployed = self._deployed
        return self._read(x, deployed["weight"], deployed["variance"], output_scale=deployed["compensation"])

    def unprogram(self) -> None:
        """Leaves deployment: the layer computes with its weights again."""
        self._deployed = None

    # ------------------------------------------------------------------------------------------
    # Introspection and state
    # ------------------------------------------------------------------------------------------

    def analog_stats(self) -> dict[str, float | int]:
        """What the simulated hardware did: examples trained on, array reads (forward and
        transposed) and converter operations, updates and capacitor pulses, transfers, refreshes,
        PCM programming pulses and verify reads, simulated seconds; and the layer's shape."""
        stats = dict(self._counters)
        stats["polarity"] = self._polarity
        stats["in_features"], stats["out_features"], stats["mode"] = self.in_features, self.out_features, self.config.mode
        return stats

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, mode={self.config.mode}"

    def get_extra_state(self) -> dict[str, Any]:
        return {
            "format": _STATE_FORMAT,
            "config": _config_fields(self.config),
            "shape": [self.out_features, self.in_features],
            "polarity": self._polarity,
            "scale_us_per_unit": self._scale_us_per_unit,
            "pending_examples": self._pending_examples,
            "examples_since_transfer": self._examples_since_transfer,
            "time_since_programming_s": self._time_since_programming_s,
            "counters": dict(self._counters),
            "deployed": self._deployment_state(),
            "device_noise": None if self._device_noise is None else dict(self._device_noise),
        }

    _DEPLOYED_TENSORS = ("g_plus", "nu_plus", "g_minus", "nu_minus", "calibration")
    _DEPLOYED_NUMBERS = ("scale", "time_s", "compensation", "reference")

    def _deployment_state(self) -> dict[str, Any] | None:
        """The programmed devices and their time, as plain values and tensors (a checkpoint of a
        deployed model resumes it exactly)."""
        if self._deployed is None:
            return None
        state = {name: self._deployed[name] for name in (*self._DEPLOYED_TENSORS, *self._DEPLOYED_NUMBERS)}
        state["pcm"] = dataclasses.asdict(self._deployed["pcm"])
        return state

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self._check_extra_state(state)
        self._polarity = int(state["polarity"])
        self._scale_us_per_unit = float(state["scale_us_per_unit"])
        self._pending_examples = int(state["pending_examples"])
        self._examples_since_transfer = int(state["examples_since_transfer"])
        self._time_since_programming_s = float(state["time_since_programming_s"])
        self._pcm_read_variance = None
        noise = state.get("device_noise")
        self._device_noise = None if noise is None else {
            name: value.to(self.weight.device) if isinstance(value, torch.Tensor) else value for name, value in noise.items()
        }  # fmt: skip
        self._counters = dict(state["counters"])
        deployed = state["deployed"]
        if deployed is None:
            self._deployed = None
        else:
            self._deployed = {name: deployed[name].to(self.weight.device) for name in self._DEPLOYED_TENSORS}
            self._deployed.update({name: float(deployed[name]) for name in self._DEPLOYED_NUMBERS})
            self._deployed["pcm"] = PCMDevice(**deployed["pcm"])
            self._deployed["weight"], self._deployed["variance"] = self._deployed_moments(self._deployed["time_s"])

    def _check_extra_state(self, state: Any) -> None:
        if not isinstance(state, dict) or state.get("format") != _STATE_FORMAT:
            raise ValueError(f"state_dict: expected AnalogLinear state of format {_STATE_FORMAT}, got {state!r:.200}")
        # The seed only keys the generator at construction; the saved rng_state carries it on.
        saved = state.get("config")
        ours = _config_fields(self.config)
        if not isinstance(saved, dict) or saved.keys() != ours.keys():
            raise ValueError(f"state_dict: expected an AnalogLinear config with the fields {sorted(ours)}, got {saved!r:.200}")
        differences = [f"{name} = {saved[name]!r} (layer: {ours[name]!r})" for name in ours if name != "seed" and saved[name] != ours[name]]
        if differences:
            raise ValueError("state_dict: saved from a layer of another configuration: " + "; ".join(differences))
        if list(state.get("shape", [])) != [self.out_features, self.in_features]:
            raise ValueError(
                f"state_dict: saved from a layer of shape {state.get('shape')}, this layer is "
                f"{[self.out_features, self.in_features]}"
            )
        problems = []
        if state.get("polarity") not in (1, -1):
            problems.append(f"polarity {state.get('polarity')!r} (expected +1 or -1)")
        scale = state.get("scale_us_per_unit")
        if not isinstance(scale, float) or not math.isfinite(scale) or scale <= 0:
            problems.append(f"scale_us_per_unit {scale!r} (expected a finite float > 0)")
        for name in ("pending_examples", "examples_since_transfer"):
            if not isinstance(state.get(name), int) or state[name] < 0:
                problems.append(f"{name} {state.get(name)!r} (expected an int >= 0)")
        seconds = state.get("time_since_programming_s")
        if not isinstance(seconds, float) or not math.isfinite(seconds) or seconds < 0:
            problems.append(f"time_since_programming_s {seconds!r} (expected a finite float >= 0)")
        counters = state.get("counters")
        if not isinstance(counters, dict) or counters.keys() != self._counters.keys():
            problems.append(f"counters {counters!r:.200} (expected the keys {sorted(self._counters)})")
        elif any(not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 for v in counters.values()):
            problems.append(f"counters {counters!r:.200} (expected finite numbers >= 0)")
        problems += self._deployment_problems(state.get("deployed", "missing"))
        problems += self._device_noise_problems(state.get("device_noise"))
        if problems:
            raise ValueError("state_dict: corrupted AnalogLinear state: " + "; ".join(problems))

    def _device_noise_problems(self, noise: Any) -> list[str]:
        """What is wrong with a saved hardware-aware device draw (None: none saved)."""
        if noise is None:
            return []
        shape = (self.out_features, self.in_features)
        if not isinstance(noise, dict) or noise.keys() != {"deviation", "variance", "bound", "forwards"}:
            return [f"device_noise {noise!r:.200} (expected deviation, variance, bound, forwards)"]
        problems = []
        for name, value, low in (("deviation", noise["deviation"], -math.inf), ("variance", noise["variance"], 0.0)):
            if name == "variance" and value is None:
                continue
            if not isinstance(value, torch.Tensor) or value.dtype != torch.float32 or tuple(value.shape) != shape:
                problems.append(f"device_noise.{name} (expected a float32 tensor of shape {list(shape)})")
            elif value.numel() and not (torch.isfinite(value).all() and value.min() >= low):
                problems.append(f"device_noise.{name} (expected finite values >= {low})")
        bound = noise["bound"]
        if not isinstance(bound, torch.Tensor) or bound.dtype != torch.float32 or bound.dim() != 0 or bound.isnan() or bound < 0:
            problems.append("device_noise.bound (expected a float32 scalar tensor >= 0)")
        if isinstance(noise["forwards"], bool) or not isinstance(noise["forwards"], int) or noise["forwards"] < 0:
            problems.append(f"device_noise.forwards {noise['forwards']!r} (expected an int >= 0)")
        return problems

    def _deployment_problems(self, deployed: Any) -> list[str]:
        if deployed is None:
            return []
        names = {*self._DEPLOYED_TENSORS, *self._DEPLOYED_NUMBERS, "pcm"}
        if not isinstance(deployed, dict) or deployed.keys() != names:
            return [f"deployed {deployed!r:.100} (expected None or the keys {sorted(names)})"]
        try:
            pcm = PCMDevice(**deployed["pcm"])
        except (TypeError, ValueError) as error:
            return [f"deployed pcm ({error})"]
        problems = []
        shape = [self.out_features, self.in_features]
        for name in self._DEPLOYED_TENSORS:
            value = deployed[name]
            want = [_CALIBRATION_BATCH, self.in_features] if name == "calibration" else shape
            low, high = (0.0, pcm.g_max_us) if name.startswith("g_") else (0.0, 1.0) if name.startswith("nu_") else (-1.0, 1.0)
            if not isinstance(value, torch.Tensor) or value.dtype != torch.float32 or list(value.shape) != want:
                problems.append(f"deployed {name} (expected a float32 tensor of shape {want})")
            elif value.numel() and (not torch.isfinite(value).all() or value.min() < low or value.max() > high):
                problems.append(f"deployed {name} (expected finite values in [{low}, {high}])")
        for name in self._DEPLOYED_NUMBERS:
            value = deployed[name]
            if not isinstance(value, float) or not math.isfinite(value) or value < 0 or (name == "scale" and value == 0):
                problems.append(f"deployed {name} {value!r} (expected a finite float >= 0)")
        return problems

    def _check_incoming_tensors(self, state_dict: dict, prefix: str, extra: dict | None) -> None:
        """Refuses device state that no simulation could have produced (wrong shape or dtype, NaN,
        conductances outside [0, G_max], V_C outside its rails, a weight that the devices do not
        hold): a corrupted checkpoint is refused before anything is copied."""
        cell = self.config.unit_cell
        shape = [self.out_features, self.in_features]
        expected = {"rng_state": (torch.int64, [2], None)}
        if self.config.mode in DEVICE_MODES:
            expected["g_plus_us"] = expected["g_minus_us"] = (torch.float32, shape, (0.0, cell.pcm.g_max_us))
        if self.config.mode == "in_situ":
            cap = cell.capacitor
            expected["v_c"] = (torch.float32, shape, (cap.v_min_v, cap.v_max_v))
            expected["variation"] = (torch.int8, [*shape, 3], None)
        incoming = {}
        for name, (dtype, want_shape, bounds) in expected.items():
            value = state_dict.get(prefix + name)
            if value is None:
                continue  # a missing key: load_state_dict reports it (strict) or keeps the layer's own
            if not isinstance(value, torch.Tensor) or value.dtype != dtype or list(value.shape) != want_shape:
                got = f"{value.dtype} {list(value.shape)}" if isinstance(value, torch.Tensor) else type(value).__name__
                raise ValueError(f"state_dict: {prefix}{name}: expected a {dtype} tensor of shape {want_shape}, got {got}")
            if bounds is not None and value.numel():
                low, high = bounds
                if not torch.isfinite(value).all() or value.min().item() < low or value.max().item() > high:
                    raise ValueError(
                        f"state_dict: {prefix}{name}: expected finite values in [{low}, {high}], got values in "
                        f"[{value.min().item()}, {value.max().item()}] (a corrupted checkpoint?)"
                    )
            incoming[name] = value
        weight = state_dict.get(prefix + "weight")
        if self.config.mode not in DEVICE_MODES or extra is None or weight is None or len(incoming) < len(expected):
            return
        if not isinstance(weight, torch.Tensor) or list(weight.shape) != shape:
            return  # load_state_dict reports the shape
        held = self._weight_held(
            incoming["g_plus_us"], incoming["g_minus_us"], incoming.get("v_c"), incoming.get("variation"),
            extra["polarity"], extra["scale_us_per_unit"],
        )  # fmt: skip
        if not torch.equal(held.to(weight.device), weight.float()):
            raise ValueError(f"state_dict: {prefix}weight: does not match the weights its devices hold (a corrupted checkpoint?)")

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        # Validate everything before anything is copied: a refused state_dict leaves the layer as it was.
        extra = state_dict.get(prefix + "_extra_state")
        if extra is not None:
            self._check_extra_state(extra)
        self._check_incoming_tensors(state_dict, prefix, extra)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)
        self._pcm_read_variance = None  # the devices may have changed (the device draw comes with the extra state)
        if self.config.mode in DEVICE_MODES:
            self._weight_version = self.weight._version
