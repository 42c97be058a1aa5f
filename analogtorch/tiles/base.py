"""The tile interface: one weight matrix on crossbar arrays of one kind of physics.

A tile owns the device state of its kind and nothing else: the weight matrix it computes with is the
layer's parameter (a 2-D view of it), handed to every call, so that a layer keeps the attributes and
the ``state_dict`` names of the torch module it replaces. The interface:

- ``read(x, weight)``: one forward read of ``[N, in]`` input vectors, ``[N, out]`` out (no bias); in
  training, autograd's backward is the tile's transposed read.
- ``holds_weights``: whether the devices hold the weight (in-situ kinds). Then ``initialize(weight)``
  programs fresh devices from ``weight`` and writes what they hold back into it,
  ``device_weight()`` is what they hold, and ``check_update``/``update`` change them
  (``analogtorch.optim.AnalogSGD`` calls these, after ``update_accepted``: the same checks as
  tensors, which it reads back once for a whole step).
- ``program(weight, pcm)``: a :class:`~analogtorch.tiles.DeployedTile` holding ``weight`` in PCM.
- ``stats()``: what the simulated hardware did (counters), for ``analog_stats`` and ``estimate``.
- State: buffers (device state, rng state, counters and per-step scalars, all tensors so that a
  compiled model never recompiles) and an extra state naming the configuration; anything loaded is
  validated before it is copied.
- No host reads on the hot path: a forward, its backward and an update read nothing back from the
  device. The per-step scalars that the host needs (how many examples, which polarity, when to
  transfer) are mirrored as Python numbers (``_host``), written with their buffers
  (``_set_host``, ``_add_host``) and read again from the buffers after a load or a move only.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from typing import Any, ClassVar

import torch
from torch import nn

from .. import _ops as ops
from ..presets import AnalogConfig
from .periphery import Grid, array_read

__all__ = ["COUNTERS", "Tile", "config_fields"]

COUNTERS = (
    "examples", "forward_reads", "backward_reads", "dac_conversions", "adc_conversions", "updates", "pulses",
    "transfers", "refreshes", "programming_pulses", "programming_iterations", "simulated_seconds", "rereads",
)  # fmt: skip
"""What a tile counts: examples trained on, reads (input vectors through the tile's arrays, forward
and transposed), converter operations (every array's DACs and ADCs), updates and their pulses,
transfers, refreshes, PCM programming pulses and verify reads, simulated seconds of training, and
the re-reads of bound management (per array and vector)."""

_COUNTER = {name: index for index, name in enumerate(COUNTERS)}
_STATE_FORMAT = 3
# Integer state bounds: far beyond any run, far below overflow of the int64 and float64 arithmetic.
MAX_COUNT = 2**53


def config_fields(config: Any, prefix: str = "") -> dict[str, Any]:
    """A configuration as flat {"unit_cell.pcm.g_max_us": 25.0, ...}: plain values that a checkpoint
    can hold (``torch.load(weights_only=True)``) and that two configurations can be diffed by."""
    values = {}
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            values.update(config_fields(value, f"{prefix}{field.name}."))
        else:
            values[prefix + field.name] = value
    return values


class Tile(nn.Module, metaclass=abc.ABCMeta):
    """Base of every tile kind (see the module docstring). Shapes: ``out_features x in_features``."""

    config_class: ClassVar[type[AnalogConfig]]
    """The configuration class that names this tile kind."""

    holds_weights: ClassVar[bool] = False
    """Whether the devices hold the weight (in-situ training through ``AnalogSGD``)."""

    update_pulse: ClassVar[str | None] = None
    """What one counted update pulse is: ``"capacitor"`` (a 3T1C pulse), ``"pcm_set"`` (a PCM
    partial-SET pulse) or None (no in-situ updates); the energy estimate prices them."""

    mirrored: ClassVar[tuple[str, ...]] = ()
    """The 0-dim buffers mirrored on the host (see the module docstring)."""

    def __init__(self, out_features: int, in_features: int, config: AnalogConfig, device: torch.device | str | None = None):
        super().__init__()
        if not isinstance(config, self.config_class):
            raise TypeError(f"config: expected a {self.config_class.__name__}, got {type(config).__name__}")
        self.out_features, self.in_features, self.config = out_features, in_features, config
        self.register_buffer("rng_state", ops.make_rng_state(int(config.seed), device=device))
        self.register_buffer("counters", torch.zeros(len(COUNTERS), dtype=torch.float64, device=device))
        periphery = config.periphery
        self.grid = Grid(out_features, in_features, periphery)
        dac, adc = float(periphery.in_bits > 0), float(periphery.out_bits > 0 or periphery.out_noise > 0)
        # Counts of one input vector's forward read and of the transposed read that follows it in
        # training (converters swapped): one add per read, a tensor op that compiles. Every array
        # has its own converters: an input slice is converted once per array it drives.
        rows_driven, cols_read = self.grid.col_blocks, self.grid.row_blocks
        forward = torch.zeros(len(COUNTERS), dtype=torch.float64)
        forward[_COUNTER["forward_reads"]] = 1
        forward[_COUNTER["dac_conversions"]] = in_features * rows_driven * dac
        forward[_COUNTER["adc_conversions"]] = out_features * cols_read * adc
        transposed = torch.zeros(len(COUNTERS), dtype=torch.float64)
        transposed[_COUNTER["backward_reads"]] = 1
        transposed[_COUNTER["dac_conversions"]] = out_features * cols_read * dac
        transposed[_COUNTER["adc_conversions"]] = in_features * rows_driven * adc
        self.register_buffer("_forward_read_counts", forward.to(device), persistent=False)
        self.register_buffer("_training_read_counts", (forward + transposed).to(device), persistent=False)

    # ------------------------------------------------------------------------------------------
    # The interface
    # ------------------------------------------------------------------------------------------

    @abc.abstractmethod
    def read(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """``[N, in]`` float32 inputs through the array holding ``weight`` (``[out, in]``): ``[N, out]``."""

    def initialize(self, weight: torch.Tensor) -> None:
        """Programs fresh devices to hold ``weight`` and writes what they hold into it (in-situ kinds)."""

    def device_weight(self) -> torch.Tensor:
        raise TypeError(f"{type(self).__name__}: its weights are digital, not held by devices")

    def check_update(self, delta_weight: torch.Tensor) -> None:
        """Raises ValueError if ``update(delta_weight, ...)`` would be refused; changes nothing."""
        raise TypeError(f"{type(self).__name__}: its weights are digital; a digital optimizer updates them")

    def update_accepted(self, delta_weight: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """A 0-dim bool tensor on the tile's device, computed without reading anything back: True
        when ``update(delta_weight, weight, checked=True)`` may run, i.e. the change is finite,
        ``weight`` is what the devices hold and their state lies within its bounds (everything
        that ``check_update`` and the update ops check). False says only that those checks must
        run to tell why."""
        raise TypeError(f"{type(self).__name__}: its weights are digital; a digital optimizer updates them")

    def update(self, delta_weight: torch.Tensor, weight: torch.Tensor, *, checked: bool = False) -> None:
        """Applies a requested weight change through the devices; writes the new weight into
        ``weight``. ``checked``: ``update_accepted`` said True (the ops then check no values and
        read nothing back)."""
        raise TypeError(f"{type(self).__name__}: its weights are digital; a digital optimizer updates them")

    def program(self, weight: torch.Tensor, pcm=None, *, seed: int | None = None):
        """A deployed tile holding ``weight`` in PCM pairs (docs/physics.md section 2), its draws
        keyed by ``seed`` (default: the configuration's)."""
        from .deployed import DeployedTile

        pcm = self.config.deployment_pcm if pcm is None else pcm
        config = self.config if seed is None else dataclasses.replace(self.config, seed=seed)
        return DeployedTile.programmed(weight, config, pcm, device=weight.device)

    def stats(self) -> dict[str, float | int]:
        """The counters as numbers (integers where they count events), and the arrays."""
        values = self.counters.tolist()
        stats = {name: (value if name == "simulated_seconds" else int(value)) for name, value in zip(COUNTERS, values)}
        stats["arrays"] = self.grid.arrays
        return stats

    def _read(self, x, weight, rng, *, full_scale, variance=None, partial_scale=None, transposed_read_noise=False):
        """One read through the arrays and their periphery; counts bound management's re-reads."""
        y, rereads = array_read(x, weight, rng, self.config.periphery, self.grid, full_scale=full_scale, variance=variance,
                                partial_scale=partial_scale, transposed_read_noise=transposed_read_noise)  # fmt: skip
        if rereads is not None and self.config.periphery.bound_management:
            self.counters[_COUNTER["rereads"]] += rereads
        return y

    # ------------------------------------------------------------------------------------------
    # Helpers for the kinds
    # ------------------------------------------------------------------------------------------

    def _rng(self) -> torch.Tensor:
        """The rng state of the next use. Call :meth:`_advance_rng` once the use succeeded: a refused
        call leaves the generator where it was."""
        return self.rng_state.clone()

    def _advance_rng(self, uses: int = 1) -> None:
        self.rng_state[1] += uses

    def _count_reads(self, vectors: int, training: bool) -> None:
        counts = self._training_read_counts if training else self._forward_read_counts
        self.counters.add_(counts, alpha=vectors)

    def _count(self, name: str, value: float | torch.Tensor) -> None:
        self.counters[_COUNTER[name]] += value

    # The mirror of buffer `name` is the attribute `_host_<name>` (None or absent: not held). One
    # attribute each, not a dict: a compiled forward that drops one then guards on nothing else.

    def _host(self, name: str) -> int | float:
        """0-dim buffer ``name`` as a Python number, from its host mirror; read from the buffer
        (a device synchronisation on a GPU) only when no mirror is held."""
        value = getattr(self, "_host_" + name, None)
        if value is None:
            value = getattr(self, name).item()
            setattr(self, "_host_" + name, value)
        return value

    def _set_host(self, name: str, value: int | float) -> None:
        """Writes ``value`` into buffer ``name`` and its mirror (exactly: a Python int or float
        is exact in an int64 or float64 buffer)."""
        getattr(self, name).fill_(value)
        setattr(self, "_host_" + name, value)

    def _add_host(self, name: str, value: int | float) -> None:
        """Adds ``value`` to buffer ``name`` and to its mirror (the same IEEE float64 or int64 add)."""
        getattr(self, name).add_(value)
        if torch.compiler.is_compiling():
            # A compiled forward runs its Python when traced, not at every call: the mirror cannot
            # follow, and its next use reads the buffer.
            setattr(self, "_host_" + name, None)
            return
        held = getattr(self, "_host_" + name, None)
        if held is not None:
            setattr(self, "_host_" + name, held + value)

    def _refresh_mirrors(self) -> None:
        """After a load or a move (which write the buffers, not the mirrors): one read of each
        mirrored buffer, so that the hot path that follows reads none."""
        for name in self.mirrored:
            buffer = self._buffers.get(name)
            held = buffer is not None and not buffer.is_meta
            setattr(self, "_host_" + name, buffer.item() if held else None)

    def extra_repr(self) -> str:
        return f"{self.out_features}x{self.in_features}"

    # ------------------------------------------------------------------------------------------
    # State: the configuration in the extra state; everything loaded is validated first.
    # ------------------------------------------------------------------------------------------

    def get_extra_state(self) -> dict[str, Any]:
        return {"format": _STATE_FORMAT, "kind": type(self).__name__, "config": config_fields(self.config),
                "shape": [self.out_features, self.in_features]}  # fmt: skip

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self._check_extra_state(state)

    def _check_extra_state(self, state: Any) -> None:
        name = type(self).__name__
        if not isinstance(state, dict) or state.get("format") != _STATE_FORMAT or state.get("kind") != name:
            raise ValueError(f"state_dict: expected the state of a {name} (format {_STATE_FORMAT}), got {state!r:.200}")
        saved, ours = state.get("config"), config_fields(self.config)
        if not isinstance(saved, dict) or saved.keys() != ours.keys():
            raise ValueError(f"state_dict: expected a {name} config with the fields {sorted(ours)}, got {saved!r:.200}")
        # The seed only keys the generator at construction; the saved rng_state carries it on.
        differences = [f"{key} = {saved[key]!r} (layer: {ours[key]!r})" for key in ours if key != "seed" and saved[key] != ours[key]]
        if differences:
            raise ValueError("state_dict: saved from a layer of another configuration: " + "; ".join(differences))
        if state.get("shape") != [self.out_features, self.in_features]:
            raise ValueError(
                f"state_dict: saved from a tile of shape {state.get('shape')!r:.100}, this tile is "
                f"{[self.out_features, self.in_features]}"
            )

    def _state_spec(self) -> dict[str, tuple[torch.dtype, list[int], tuple[float, float] | None]]:
        """Every persistent buffer: dtype, shape and (closed) bounds of its values (None: any finite)."""
        return {
            "rng_state": (torch.int64, [2], None),
            "counters": (torch.float64, [len(COUNTERS)], (0.0, float(MAX_COUNT))),
        }

    def check_incoming(self, state_dict: dict[str, Any], prefix: str) -> dict[str, torch.Tensor]:
        """Validates this tile's part of a state_dict (extra state and buffers) without copying
        anything; returns the incoming buffers by name. A corrupted or mismatched state raises
        ValueError before any module has changed."""
        extra = state_dict.get(prefix + "_extra_state")
        if extra is not None:
            self._check_extra_state(extra)
        incoming = {}
        for name, (dtype, shape, bounds) in self._state_spec().items():
            value = state_dict.get(prefix + name)
            if value is None:
                continue  # a missing key: load_state_dict reports it (strict) or keeps the tile's own
            if not isinstance(value, torch.Tensor) or value.dtype != dtype or list(value.shape) != shape:
                got = f"{value.dtype} {list(value.shape)}" if isinstance(value, torch.Tensor) else type(value).__name__
                raise ValueError(f"state_dict: {prefix}{name}: expected a {dtype} tensor of shape {shape}, got {got}")
            if bounds is not None and value.numel():
                low, high = bounds
                finite = bool(torch.isfinite(value).all()) if value.is_floating_point() else True
                if not finite or value.min().item() < low or value.max().item() > high:
                    raise ValueError(
                        f"state_dict: {prefix}{name}: expected finite values in [{low}, {high}], got values in "
                        f"[{value.min().item()}, {value.max().item()}] (a corrupted checkpoint?)"
                    )
            incoming[name] = value
        return incoming

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        self.check_incoming(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)
        self._refresh_mirrors()
        self._invalidate_caches()

    def _invalidate_caches(self) -> None:
        """Drops whatever is recomputed from the device state (after loads, moves and changes)."""

    def _apply(self, fn, recurse=True):
        super()._apply(fn, recurse)
        self._refresh_mirrors()
        self._invalidate_caches()
        return self


def finite_scalar(value: torch.Tensor) -> bool:
    return bool(torch.isfinite(value).all())


def check_number(name: str, value: Any, low: float = -math.inf, high: float = math.inf) -> float:
    """A plain finite number in [low, high] (bools refused), as float; ValueError/TypeError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    value = float(value)
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name}: expected a finite number in [{low:g}, {high:g}], got {value!r}")
    return value
