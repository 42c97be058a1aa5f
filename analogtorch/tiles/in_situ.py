"""Tiles whose devices hold the weights and learn in situ (``AnalogSGD`` updates them):

- :class:`UnitCellTile` (``UnitCellConfig``): 2PCM + 3T1C unit cells, capacitor updates, transfers
  into PCM, polarity inversion (Ambrogio et al. 2018; docs/physics.md section 1).
- :class:`PCMPairTile` (``PCMPairConfig``): a bare PCM pair per weight trained with partial-SET
  pulses and occasional refresh (the paper's foil, after Burr et al. 2015).

The layer's weight parameter is the cached effective weight of the devices: the update kernels
rewrite it in the same pass as the devices, so a forward is a GEMM, not a pass over the cells.

Both kinds can keep an opt-in record of the pulses each weight received (:meth:`InSituTile.track_pulses`,
:func:`summarise_pulses`; docs/physics.md section 1.12), off by default.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from typing import Any

import torch

from .. import _ops as ops
from .._finite import all_finite, all_within
from ..config import PCMDevice
from ..presets import PCMPairConfig, UnitCellConfig
from .base import MAX_COUNT, Tile

__all__ = ["PERCENTILES", "PULSE_REFERENCE_IMAGES", "InSituTile", "PCMPairTile", "UnitCellTile", "summarise_pulses"]

# ED Fig 2 reports pulse statistics over 16,000 images (two transfer intervals of 8,000).
PULSE_REFERENCE_IMAGES = 16_000

# Where a re-mapping transfer puts a layer's largest weight: half the pair's programmable range.
REMAP_FRACTION = 0.5

# The devices' read-noise variance is computed at this time after programming and scaled to the time
# since the last transfer (the 1/f noise grows as sqrt(ln((t + t_r) / (2 t_r))), docs/physics.md section 2).
_VARIANCE_REFERENCE_S = 1.0


def _read_noise_growth(time_s: torch.Tensor | float, pcm: PCMDevice):
    """sqrt(ln((t + t_r) / (2 t_r))), 0 before t_r (pcm::read_time in pcm.h), on tensors or floats."""
    if isinstance(time_s, torch.Tensor):
        return torch.log((time_s + pcm.t_read_s) / (2.0 * pcm.t_read_s)).clamp(min=0.0).sqrt()
    return math.sqrt(max(math.log((time_s + pcm.t_read_s) / (2.0 * pcm.t_read_s)), 0.0))


class InSituTile(Tile):
    """What both in-situ kinds share: a PCM pair per weight, the weight-to-uS scale, the examples
    read since the last update, the time since the pairs were programmed, and the PCM read noise of
    every read (forward and the backward's transposed read)."""

    holds_weights = True
    mirrored = ("scale_us_per_unit", "time_since_programming_s", "pending_examples")

    def __init__(self, out_features, in_features, config, device=None):
        super().__init__(out_features, in_features, config, device)
        if device is not None and torch.device(device).type == "meta":
            raise ValueError(f"device: a {type(self).__name__} programs its devices when built; it needs a real device, got meta")
        shape = (out_features, in_features)
        state = {"device": device, "dtype": torch.float32}
        scalar64 = {"device": device, "dtype": torch.float64}
        self.register_buffer("g_plus_us", torch.zeros(shape, **state))
        self.register_buffer("g_minus_us", torch.zeros(shape, **state))
        self.register_buffer("scale_us_per_unit", torch.ones((), **scalar64))
        self.register_buffer("time_since_programming_s", torch.zeros((), **scalar64))
        # Input vectors read in training since the last update: the examples the next update trains on.
        self.register_buffer("pending_examples", torch.zeros((), dtype=torch.int64, device=device))
        self._host_scale_us_per_unit, self._host_time_since_programming_s, self._host_pending_examples = 1.0, 0.0, 0
        self._read_variance_base: torch.Tensor | None = None
        # The opt-in pulse record (track_pulses): None, so that an untracked tile holds nothing more.
        self.pulse_statistics: dict[str, Any] | None = None

    # Where the record samples the share of cells at a rail, and what counts as one (summarise_pulses).
    rail_sampled_at: str = ""
    rail_definition: str = ""

    def track_pulses(self, enabled: bool = True) -> None:
        """Starts (afresh) or stops a per-cell record of the update pulses, in ``pulse_statistics``
        (None when off, the default). A measurement, not device state: not in the state_dict, and
        the updates are the same with or without it. The record:

        - ``"total"``: int32 ``[out, in]``, pulses received in all (sum of |pulses|);
        - ``"net"``: int32 ``[out, in]``, signed sum, positive in the direction of W;
        - ``"examples"``: int, examples the tracked updates trained on;
        - ``"updates"``: int, tracked updates;
        - ``"railed"``: int64 scalar tensor, cells found at a rail, summed over ``"rail_samples"``
          (int) samples: see ``rail_sampled_at`` and ``rail_definition`` of the kind.
        """
        if not isinstance(enabled, bool):
            raise TypeError(f"enabled: expected a bool, got {type(enabled).__name__}")
        if not enabled:
            self.pulse_statistics = None
            return
        device = self.g_plus_us.device
        shape = (self.out_features, self.in_features)
        self.pulse_statistics = {
            "total": torch.zeros(shape, dtype=torch.int32, device=device),
            "net": torch.zeros(shape, dtype=torch.int32, device=device),
            "examples": 0,
            "updates": 0,
            "railed": torch.zeros((), dtype=torch.int64, device=device),
            "rail_samples": 0,
        }

    def _record_pulses(self, pulses: torch.Tensor, direction: int, examples: int) -> None:
        """Adds one update's int8 pulses (signed as the op returns them; ``direction`` turns that
        sign into W's) to the record. Tensor ops only: no synchronisation with the device."""
        record = self.pulse_statistics
        record["total"] += pulses.abs()
        record["net"] += pulses if direction == 1 else -pulses
        record["examples"] += examples
        record["updates"] += 1

    def _apply(self, fn, recurse=True):
        super()._apply(fn, recurse)
        record = getattr(self, "pulse_statistics", None)
        if record is not None:  # the record follows the devices (plain attributes do not)
            device = self.g_plus_us.device

            def move(value):
                if isinstance(value, list):
                    return [move(item) for item in value]
                return value.to(device) if isinstance(value, torch.Tensor) else value

            self.pulse_statistics = {key: move(value) for key, value in record.items()}
        return self

    @property
    @abc.abstractmethod
    def pcm(self) -> PCMDevice:
        """Defined by each in-situ kind."""

    @property
    @abc.abstractmethod
    def gain_f(self) -> float:
        """Defined by each in-situ kind."""

    @property
    @abc.abstractmethod
    def weight_range_fraction(self) -> float:
        """Defined by each in-situ kind."""

    # --- reads ------------------------------------------------------------------------------------

    def read(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        training = self.training and torch.is_grad_enabled()
        rng = self._rng()
        y = self._read(x, weight, rng, full_scale=self._full_scale(), variance=self._read_variance(), transposed_read_noise=training)
        # Commit only after the read succeeded: a refused forward leaves the tile as it was.
        self._advance_rng()
        self._count_reads(x.shape[0], training=training)
        if training:  # examples that will reach an update
            self._add_host("pending_examples", x.shape[0])
        return y

    def _full_scale(self) -> torch.Tensor:
        """What one device at G_max stands for, F G_max / scale: in-situ tiles map a whole layer with
        one scale (the transfer keeps it), so every array has the same full scale."""
        full = (self.gain_f * self.pcm.g_max_us / self.scale_us_per_unit).float()
        return full.expand(self.grid.row_blocks, self.out_features)

    def _read_variance(self) -> torch.Tensor | None:
        """The variance of each weight's PCM read (network units^2) at the time since the pairs were
        programmed; None without read noise. Within a transfer interval (milliseconds) the devices
        do not drift (t0 = 20 s). The 3T1C capacitor's read is taken as noiseless: no public figure."""
        pcm = self.pcm
        if not pcm.read_noise:
            return None
        base = None if torch.compiler.is_compiling() else self._read_variance_base
        if base is None:
            kwargs = {"g_max_us": pcm.g_max_us, "t0_s": pcm.t0_s, "t_read_s": pcm.t_read_s}
            no_drift = torch.zeros_like(self.g_plus_us)
            _, plus = ops.pcm_read_moments(self.g_plus_us, no_drift, _VARIANCE_REFERENCE_S, **kwargs)
            _, minus = ops.pcm_read_moments(self.g_minus_us, no_drift, _VARIANCE_REFERENCE_S, **kwargs)
            base = (plus + minus) * (self.gain_f / self.scale_us_per_unit).square().float()
            if not torch.compiler.is_compiling():
                self._read_variance_base = base
        growth = _read_noise_growth(self.time_since_programming_s, pcm) / _read_noise_growth(_VARIANCE_REFERENCE_S, pcm)
        return base * growth.square().float()

    def _invalidate_caches(self) -> None:
        self._read_variance_base = None

    # --- programming --------------------------------------------------------------------------

    def _program_pairs(self, weight_us: torch.Tensor, pcm: PCMDevice, rng: torch.Tensor):
        """Programs PCM pairs to hold ``weight_us`` (uS of G+ - G-); returns the G+ and G- results
        and the (pulses, iterations) of the devices that did work.

        Closed loop (program-and-verify from RESET): the device on each weight's side is programmed
        to |w| + g_reset, so that the RESET partner's g_reset cancels; open loop: G+ = max(w, 0),
        G- = max(-w, 0), both with programming noise. The devices of cell i are 2i and 2i+1, as in
        the transfer kernel.
        """
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
        pulses = sum(result.pulses[mask].sum(dtype=torch.int64) for result, mask in zip((plus, minus), used))
        iterations = sum(result.iterations[mask].sum(dtype=torch.int64) for result, mask in zip((plus, minus), used))
        return plus, minus, pulses, iterations

    @torch.no_grad()
    def initialize(self, weight: torch.Tensor) -> None:
        """Maps ``weight`` onto fresh devices (the largest weight uses ``weight_range_fraction`` of
        the pair's programmable range F * target_clip_us) and writes what they hold into it."""
        pcm = self.pcm
        largest = weight.abs().max().item() if weight.numel() else 0.0
        scale = self.weight_range_fraction * self.gain_f * pcm.target_clip_us / max(largest, 1e-12)
        self._set_host("scale_us_per_unit", scale)
        target_us = weight.float() * scale / self.gain_f
        self._initialize_cells(target_us.shape)
        target_us = target_us - self._cell_offset_us() / self.gain_f
        rng = self._rng()
        plus, minus, pulses, iterations = self._program_pairs(target_us, pcm, rng)
        self._advance_rng()
        self.g_plus_us.copy_(plus.conductance_us)
        self.g_minus_us.copy_(minus.conductance_us)
        self._set_host("time_since_programming_s", 0.0)
        self._set_host("pending_examples", 0)
        self._count("programming_pulses", pulses)
        self._count("programming_iterations", iterations)
        self._invalidate_caches()
        weight.copy_(self.device_weight())

    def _initialize_cells(self, shape) -> None:
        """Kind-specific state at programming time (before the pairs are programmed)."""

    def _cell_offset_us(self) -> torch.Tensor | float:
        """What the rest of the cell adds to F (G+ - G-) once initialised, in uS of W: the pairs are
        programmed to leave it out."""
        return 0.0

    # --- updates ------------------------------------------------------------------------------

    def _delta_us(self, delta_weight: torch.Tensor) -> torch.Tensor:
        return (delta_weight.float() * self.scale_us_per_unit.float()).contiguous()

    def check_update(self, delta_weight: torch.Tensor) -> None:
        if tuple(delta_weight.shape) != (self.out_features, self.in_features):
            raise ValueError(f"delta_weight: expected shape {[self.out_features, self.in_features]}, got {list(delta_weight.shape)}")
        if not all_finite(self._delta_us(delta_weight)):
            raise ValueError(
                f"{type(self).__name__}: the requested weight change holds NaN or Inf (or overflows in uS); "
                "the device state is untouched"
            )

    def device_weight(self) -> torch.Tensor:
        return self._held_weight(check_values=True)

    @abc.abstractmethod
    def _held_weight(self, check_values: bool) -> torch.Tensor:
        """What the devices hold; ``check_values=False``: their state is known to be in bounds."""

    def update_accepted(self, delta_weight: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        shape = (self.out_features, self.in_features)
        if tuple(delta_weight.shape) != shape or tuple(weight.shape) != shape:
            return torch.zeros((), dtype=torch.bool, device=self.g_plus_us.device)
        # Comparisons are False for NaN: a NaN anywhere makes the answer False.
        flags = [all_finite(self._delta_us(delta_weight))]
        for name, (dtype, _, bounds) in self._state_spec().items():
            if dtype == torch.float32 and bounds is not None:  # the device state, as loading bounds it
                flags.append(all_within(getattr(self, name), *bounds))
        flags.append(torch.eq(weight, self._held_weight(check_values=False)).all())
        return torch.stack(flags).all()

    def _start_update(self) -> tuple[int, float]:
        """The examples the update trains on and their simulated time; counts the update."""
        examples = self._host("pending_examples")
        self._set_host("pending_examples", 0)
        elapsed_s = examples * self.seconds_per_example_s
        self._count("examples", examples)
        self._count("updates", 1)
        self._count("simulated_seconds", elapsed_s)
        return examples, elapsed_s

    seconds_per_example_s: float = 1e-6

    def _state_spec(self):
        spec = super()._state_spec()
        shape = [self.out_features, self.in_features]
        g_max = self.pcm.g_max_us
        spec["g_plus_us"] = spec["g_minus_us"] = (torch.float32, shape, (0.0, g_max))
        spec["scale_us_per_unit"] = (torch.float64, [], (1e-30, 1e30))
        spec["time_since_programming_s"] = (torch.float64, [], (0.0, 1e30))
        spec["pending_examples"] = (torch.int64, [], (0, MAX_COUNT))
        return spec

    @abc.abstractmethod
    def weight_held_by(self, incoming: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """The weight an incoming (validated) device state holds; None when it is incomplete."""


class UnitCellTile(InSituTile):
    """2PCM + 3T1C unit cells: W = (F (G+ - G-) + p (g(V_C) - g_shared)) / scale (docs/physics.md
    section 1). Updates pulse the capacitors (with leakage over the examples' simulated time); every
    ``transfer_every`` examples the weight moves into the PCM pair and the polarity p flips.

    g_shared is a 3T1C cell per output (row of the weight matrix, ``v_shared``), with its own
    threshold (``variation_shared``), leaking like the cells, never pulsed, re-initialised to
    v_init_v at every transfer (ED Fig 9)."""

    config_class = UnitCellConfig
    update_pulse = "capacitor"
    mirrored = (*InSituTile.mirrored, "polarity", "examples_since_transfer")

    def __init__(self, out_features, in_features, config, device=None):
        super().__init__(out_features, in_features, config, device)
        shape = (out_features, in_features)
        self.register_buffer("v_c", torch.full(shape, config.unit_cell.capacitor.v_init_v, device=device))
        self.register_buffer("variation", torch.zeros((*shape, 3), device=device, dtype=torch.int8))
        self.register_buffer("v_shared", torch.full((out_features,), config.unit_cell.capacitor.v_init_v, device=device))
        self.register_buffer("variation_shared", torch.zeros((out_features, 3), device=device, dtype=torch.int8))
        self.register_buffer("polarity", torch.ones((), dtype=torch.int64, device=device))
        self.register_buffer("examples_since_transfer", torch.zeros((), dtype=torch.int64, device=device))
        self._host_polarity, self._host_examples_since_transfer = 1, 0
        self.seconds_per_example_s = config.unit_cell.capacitor.seconds_per_example_s

    rail_sampled_at = "transfers"
    rail_definition = (
        "V_C within rail_margin_v of v_max_v, or at or below max(v_min_v + rail_margin_v, v_t_v) where g "
        "cannot fall further, just before a transfer"
    )

    def track_pulses(self, enabled: bool = True) -> None:
        """As :meth:`InSituTile.track_pulses`; the pulses counted are capacitor pulses, and a
        cell is at a rail just before a transfer when its V_C is within ``rail_margin_v`` of
        ``v_max_v``, or at or below max(v_min_v + rail_margin_v, v_t_v), where g cannot fall
        further (docs/physics.md 1.11, 1.12). ``pulse_statistics["rail_share"]`` also keeps each
        transfer's share (float32 scalar tensors, one per transfer, in order)."""
        super().track_pulses(enabled)
        if enabled:
            self.pulse_statistics["rail_share"] = []

    @property
    def pcm(self) -> PCMDevice:
        return self.config.unit_cell.pcm

    @property
    def gain_f(self) -> float:
        return self.config.unit_cell.gain_f

    @property
    def weight_range_fraction(self) -> float:
        return self.config.unit_cell.weight_range_fraction

    def _initialize_cells(self, shape) -> None:
        v_init = self.config.unit_cell.capacitor.v_init_v
        self.v_c.fill_(v_init)
        self.v_shared.fill_(v_init)
        rng = self._rng()
        self.variation.copy_(ops.cell_variation(rng, tuple(shape)))
        self._advance_rng()
        rng = self._rng()
        self.variation_shared.copy_(ops.cell_variation(rng, (shape[0],)))
        self._advance_rng()
        self._set_host("polarity", 1)
        self._set_host("examples_since_transfer", 0)

    def _cell_offset_us(self) -> torch.Tensor:
        # g(v_init) - g_shared(v_init) of each cell, from the thresholds: the PCM target leaves it
        # out, as every transfer's target does (ED Fig 9).
        zeros = torch.zeros_like(self.v_c)
        cell = self.config.unit_cell
        return ops.unit_cell_weight(zeros, zeros, self.v_c, self.variation, 1, gain_f=1.0, scale_us_per_unit=1.0,
                                    capacitor=cell.capacitor, v_shared=self.v_shared,
                                    variation_shared=self.variation_shared)  # fmt: skip

    def _held_weight(self, check_values: bool) -> torch.Tensor:
        return self._weight_of(self.g_plus_us, self.g_minus_us, self.v_c, self.variation, self.v_shared,
                               self.variation_shared, self._host("polarity"), self._host("scale_us_per_unit"),
                               check_values=check_values)  # fmt: skip

    def _weight_of(self, g_plus, g_minus, v_c, variation, v_shared, variation_shared, polarity: int, scale: float,
                   check_values: bool = True):  # fmt: skip
        cell = self.config.unit_cell
        return ops.unit_cell_weight(g_plus, g_minus, v_c, variation, polarity, gain_f=cell.gain_f,
                                    scale_us_per_unit=scale, capacitor=cell.capacitor, v_shared=v_shared,
                                    variation_shared=variation_shared, check_values=check_values)  # fmt: skip

    def weight_held_by(self, incoming):
        names = ("g_plus_us", "g_minus_us", "v_c", "variation", "v_shared", "variation_shared", "polarity",
                 "scale_us_per_unit")  # fmt: skip
        if any(name not in incoming for name in names):
            return None
        return self._weight_of(*(incoming[name] for name in names[:6]), int(incoming["polarity"]), float(incoming["scale_us_per_unit"]))

    @torch.no_grad()
    def update(self, delta_weight: torch.Tensor, weight: torch.Tensor, *, checked: bool = False) -> None:
        """Capacitor pulses for the requested change (network units) and leakage over the examples
        read since the last update, then a transfer when due; ``weight`` is rewritten in place."""
        if not checked:
            self.check_update(delta_weight)
        cell = self.config.unit_cell
        examples, elapsed_s = self._start_update()
        cap = cell.capacitor
        polarity = self._host("polarity")
        # The references leak like the cells over the same time; they are never pulsed.
        self.v_shared.copy_(ops.capacitor_leak(self.v_shared, elapsed_s, cap.tau_s, cap.v_leak_v, check_values=not checked))
        rng = self._rng()
        pulses = ops.capacitor_step_(
            self.v_c, weight, self.g_plus_us, self.g_minus_us, self.variation, self._delta_us(delta_weight), rng,
            polarity, elapsed_s=elapsed_s, gain_f=cell.gain_f,
            scale_us_per_unit=self._host("scale_us_per_unit"), capacitor=cap, v_shared=self.v_shared,
            variation_shared=self.variation_shared, check_values=not checked,
        )  # fmt: skip
        self._advance_rng()
        self._add_host("time_since_programming_s", elapsed_s)
        self._add_host("examples_since_transfer", examples)
        self._count("pulses", pulses.abs().sum(dtype=torch.int64))
        if self.pulse_statistics is not None:
            self._record_pulses(pulses, polarity, examples)  # pulses move g; p turns them into W
        if self._host("examples_since_transfer") >= cell.transfer_every:
            # The kernels keep V_C and v_shared within the rails: checked state stays in bounds.
            self._transfer(weight, check_values=not checked)

    @torch.no_grad()
    def _transfer(self, weight: torch.Tensor, check_values: bool = True) -> None:
        """Moves every cell's weight into its PCM pair (the Nature 2018 transfer) and flips the
        capacitor polarity when polarity inversion is on."""
        cell = self.config.unit_cell
        polarity = self._host("polarity")
        next_polarity = -polarity if cell.polarity_inversion else polarity
        if self.pulse_statistics is not None:
            cap = cell.capacitor
            floor = max(cap.v_min_v + cap.rail_margin_v, cap.v_t_v)
            railed = (self.v_c >= cap.v_max_v - cap.rail_margin_v) | (self.v_c <= floor)
            record = self.pulse_statistics
            record["railed"] += railed.sum(dtype=torch.int64)
            record["rail_samples"] += 1
            record["rail_share"].append(railed.float().mean())
        scale = self._remapped_scale(weight) if cell.remap_at_transfer else self._host("scale_us_per_unit")
        rng = self._rng()
        result = ops.transfer(
            self.g_plus_us, self.g_minus_us, self.v_c, self.variation, rng, polarity,
            next_polarity=next_polarity, gain_f=cell.gain_f, offset_us=cell.offset_us,
            time_since_programming_s=self._host("time_since_programming_s"), pcm=cell.pcm, capacitor=cell.capacitor,
            keep_weight=cell.transfer_keeps_weight, v_shared=self.v_shared, variation_shared=self.variation_shared,
            check_values=check_values, rescale=scale / self._host("scale_us_per_unit"),
        )  # fmt: skip
        self._advance_rng()
        self._set_host("scale_us_per_unit", scale)
        self.g_plus_us.copy_(result.g_plus_us)
        self.g_minus_us.copy_(result.g_minus_us)
        self.v_c.copy_(result.v_c)
        self.v_shared.fill_(cell.capacitor.v_init_v)
        self._set_host("polarity", next_polarity)
        # Keep the schedule (every transfer_every examples); an update that covered more than one
        # interval transfers once.
        self._set_host("examples_since_transfer", self._host("examples_since_transfer") % cell.transfer_every)
        self._set_host("time_since_programming_s", 0.0)
        self._invalidate_caches()
        self._count("transfers", 1)
        self._count("programming_pulses", result.pulses.sum(dtype=torch.int64))
        self._count("programming_iterations", result.iterations.sum(dtype=torch.int64))
        # The transfer kernel programs within [0, G_max] and the rails.
        weight.copy_(self._held_weight(check_values=check_values))

    def _remapped_scale(self, weight: torch.Tensor) -> float:
        """The weight-to-uS scale for a transfer that re-maps (``remap_at_transfer``): the current
        one while the largest weight fits the pair's programmable range F * target_clip_us, else the
        one that puts it at ``REMAP_FRACTION`` of that range (room to double before the next).
        Halving the scale at most halves a pulse's share of the weights, whatever the layer's
        initial fraction. One host read of the largest weight, once per transfer."""
        cell = self.config.unit_cell
        scale = self._host("scale_us_per_unit")
        programmable_us = cell.gain_f * cell.pcm.target_clip_us
        largest = weight.abs().max().item() if weight.numel() else 0.0
        if largest * scale <= programmable_us:
            return scale
        return REMAP_FRACTION * programmable_us / largest

    def _state_spec(self):
        spec = super()._state_spec()
        shape = [self.out_features, self.in_features]
        cap = self.config.unit_cell.capacitor
        spec["v_c"] = (torch.float32, shape, (cap.v_min_v, cap.v_max_v))
        spec["variation"] = (torch.int8, [*shape, 3], None)
        spec["v_shared"] = (torch.float32, [self.out_features], (cap.v_min_v, cap.v_max_v))
        spec["variation_shared"] = (torch.int8, [self.out_features, 3], None)
        spec["polarity"] = (torch.int64, [], (-1, 1))
        spec["examples_since_transfer"] = (torch.int64, [], (0, self.config.unit_cell.transfer_every - 1))
        return spec

    def check_incoming(self, state_dict, prefix):
        incoming = super().check_incoming(state_dict, prefix)
        if "polarity" in incoming and int(incoming["polarity"]) == 0:
            raise ValueError(f"state_dict: {prefix}polarity: expected +1 or -1, got 0 (a corrupted checkpoint?)")
        return incoming


class PCMPairTile(InSituTile):
    """A bare PCM pair per weight, W = F (G+ - G-) / scale: a positive update is partial-SET pulses on
    G+, a negative one on G-; a pair with a device near G_max is RESET and its difference
    re-programmed onto one device (refresh)."""

    config_class = PCMPairConfig
    update_pulse = "pcm_set"
    rail_sampled_at = "updates"
    rail_definition = (
        "a device above the refresh threshold (refresh_fraction * g_max_us; a device at g_max_us is above it) "
        "after the update's pulses: the pairs that update refreshed"
    )

    @property
    def pcm(self) -> PCMDevice:
        return self.config.pcm

    @property
    def gain_f(self) -> float:
        return self.config.gain_f

    @property
    def weight_range_fraction(self) -> float:
        return self.config.weight_range_fraction

    def _held_weight(self, check_values: bool) -> torch.Tensor:
        return self.gain_f * (self.g_plus_us - self.g_minus_us) / self.scale_us_per_unit.float()

    def weight_held_by(self, incoming):
        if any(name not in incoming for name in ("g_plus_us", "g_minus_us", "scale_us_per_unit")):
            return None
        return self.gain_f * (incoming["g_plus_us"] - incoming["g_minus_us"]) / incoming["scale_us_per_unit"].float()

    @torch.no_grad()
    def update(self, delta_weight: torch.Tensor, weight: torch.Tensor, *, checked: bool = False) -> None:
        if not checked:
            self.check_update(delta_weight)
        config = self.config
        examples, elapsed_s = self._start_update()
        rng = self._rng()
        pulses, refreshed = ops.pcm_pair_step_(
            self.g_plus_us, self.g_minus_us, weight, self._delta_us(delta_weight), rng,
            gain_f=config.gain_f, scale_us_per_unit=self._host("scale_us_per_unit"),
            amplitude=config.update_amplitude, max_pulses=config.update_max_pulses,
            refresh_us=config.refresh_fraction * config.pcm.g_max_us, pcm=config.pcm, check_values=not checked,
        )  # fmt: skip
        self._advance_rng()
        self._invalidate_caches()
        # The pairs are pulsed, not reprogrammed: their read noise keeps growing with training time.
        self._add_host("time_since_programming_s", elapsed_s)
        self._count("pulses", pulses.abs().sum(dtype=torch.int64))
        self._count("refreshes", refreshed.sum(dtype=torch.int64))
        if self.pulse_statistics is not None:
            # Pulses are signed in W's direction (G+ up, G- down). A pair is at its rail when a
            # device passed the refresh threshold, where its partial-SET steps have all but
            # vanished: the op then refreshed it. There are no transfers, so every update is sampled.
            self._record_pulses(pulses, 1, examples)
            self.pulse_statistics["railed"] += refreshed.sum(dtype=torch.int64)
            self.pulse_statistics["rail_samples"] += 1


# ---------------------------------------------------------------------------------------------
# The pulse record, summarised
# ---------------------------------------------------------------------------------------------

PERCENTILES = (10, 50, 90)


def _percentiles(values: torch.Tensor) -> dict[str, float]:
    """The 10th, 50th (median) and 90th percentiles of ``values``, linearly interpolated between
    order statistics (as numpy's default); a sort, with no size limit."""
    ordered = values.flatten().double().sort().values.cpu()
    last = ordered.numel() - 1
    result = {}
    for percent in PERCENTILES:
        position = percent / 100 * last
        low = math.floor(position)
        high = min(low + 1, last)
        value = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
        result[f"p{percent}"] = float(value)
    return result


def summarise_pulses(tiles: Sequence[InSituTile], images: int = PULSE_REFERENCE_IMAGES) -> dict[str, Any]:
    """Pulse statistics per weight over the tracked tiles of one weight matrix (the tiles of a
    grouped parameter read the same examples), from their records (:meth:`InSituTile.track_pulses`).

    Returns a dict:

    - ``kind``, ``weights`` (cells), ``examples`` (examples the tracked updates trained on: the
      tile's ``examples`` counter when tracking started with training; input vectors, not images,
      where a layer reads several per example), ``updates``;
    - ``images`` and ``scale`` = images / examples: ``total`` and ``net_abs`` (percentiles p10,
      p50 = the median, p90 of the pulses in all and of |net| per weight) are scaled by it, the
      unscaled ones are in ``total_raw`` and ``net_abs_raw``; None without tracked examples.
      A linear scaling: exact for the total of a steady pulse rate, an upper bound for a net that
      is a random walk (which grows as the square root of the images);
    - ``rail_share``: the mean share of cells at a rail over ``rail_samples`` samples taken at
      ``rail_sampled_at`` (``"transfers"`` or ``"updates"``), as ``rail_definition`` says; None
      without samples.
    """
    tiles = list(tiles)
    if not tiles:
        raise ValueError("tiles: expected at least one in-situ tile")
    for tile in tiles:
        if not isinstance(tile, InSituTile):
            raise TypeError(f"tiles: expected in-situ tiles, got a {type(tile).__name__}")
        if tile.pulse_statistics is None:
            raise ValueError(f"tiles: a {type(tile).__name__} ({tile.extra_repr()}) does not track its pulses; call track_pulses() first")
    if isinstance(images, bool) or not isinstance(images, int) or images < 1:
        raise ValueError(f"images: expected an integer >= 1, got {images!r}")
    records = [tile.pulse_statistics for tile in tiles]
    total = torch.cat([record["total"].flatten() for record in records])
    net_abs = torch.cat([record["net"].flatten() for record in records]).abs()
    examples = max(record["examples"] for record in records)
    samples = sum(record["rail_samples"] for record in records)
    railed = sum(int(record["railed"]) for record in records)
    cells_per_sample = [tile.out_features * tile.in_features for tile in tiles]
    # Every tile of the matrix is sampled alike: the railed cells over the cells looked at.
    looked_at = sum(record["rail_samples"] * cells for record, cells in zip(records, cells_per_sample))
    summary: dict[str, Any] = {
        "kind": tiles[0].config.kind,
        "weights": total.numel(),
        "examples": examples,
        "updates": max(record["updates"] for record in records),
        "images": images,
        "scale": None,
        "total": None,
        "net_abs": None,
        "total_raw": None,
        "net_abs_raw": None,
        "rail_share": railed / looked_at if looked_at else None,
        "rail_samples": samples // len(tiles),
        "rail_sampled_at": tiles[0].rail_sampled_at,
        "rail_definition": tiles[0].rail_definition,
    }
    if examples > 0 and total.numel():
        scale = images / examples
        raw_total, raw_net = _percentiles(total), _percentiles(net_abs)
        summary.update(scale=scale, total_raw=raw_total, net_abs_raw=raw_net,
                       total={key: value * scale for key, value in raw_total.items()},
                       net_abs={key: value * scale for key, value in raw_net.items()})  # fmt: skip
    return summary
