"""``AnalogModule``: what every analog layer shares. A layer holds its weights as the torch module it
replaces does (same parameter names and shapes) and puts each weight matrix on tiles
(:mod:`analogtorch.tiles`); it holds no physics of its own.

- ``self.tiles[name]``: the tiles of parameter ``name``, one per group (a grouped convolution's
  groups are separate arrays); tile ``i`` holds ``param.view(groups, rows, cols)[i]``.
- ``self.deployed_tiles[name]``: after :meth:`program`, the PCM the weights were programmed into;
  every read then goes there, until :meth:`unprogram`.
- In-situ tiles hold the weight: the parameter is their cached effective weight and only
  ``analogtorch.optim.AnalogSGD`` changes it (through :func:`device_owner`).
"""

from __future__ import annotations

import math
import warnings
import weakref
from typing import Any, Iterator

import torch
from torch import nn

from .. import _ops as ops
from ..config import PCMDevice
from ..presets import AnalogConfig, IdealConfig, hardware_aware
from ..tiles import COUNTERS, DeployedTile, Tile, make_tile
from ..tiles.deployed import MAX_TIME_S

__all__ = ["AnalogModule", "device_owner", "resolve_config"]

# The i-th tile of a layer draws with the layer's seed + (i << 32): its own Philox key, far from the
# seeds of other layers (convert_to_analog gives layer j the seed + j). The step word is taken
# modulo 2^40 by the generator, so steps cannot separate tiles.
_TILE_SEED_SHIFT = 32


def tile_seed(seed: int, index: int) -> int:
    """The seed of tile ``index`` of a layer whose configuration has ``seed``."""
    return (seed + (index << _TILE_SEED_SHIFT)) % 2**64

# Weights held by devices -> (layer, parameter name), for AnalogSGD: keyed by identity, holding both
# weakly. A registry rather than an attribute on the Parameter, so that copies and pickles of a layer
# register themselves anew.
_DEVICE_OWNERS: dict[int, tuple[weakref.ref, weakref.ref, str]] = {}


def device_owner(param: torch.Tensor) -> tuple["AnalogModule", str] | None:
    """The layer whose devices hold ``param`` and the parameter's name, or None for a digital one."""
    entry = _DEVICE_OWNERS.get(id(param))
    if entry is None or entry[0]() is not param:
        return None
    layer = entry[1]()
    return None if layer is None else (layer, entry[2])


def resolve_config(config: AnalogConfig | None) -> AnalogConfig:
    """The layer's configuration: ``hardware_aware()`` by default."""
    if config is None:
        return hardware_aware()
    if not isinstance(config, AnalogConfig):
        raise TypeError(f"config: expected an analogtorch.presets.AnalogConfig, got {type(config).__name__}")
    return config


def _refuse_fused_fast_paths(module, args):
    """A forward pre-hook every analog layer carries. PyTorch's fused inference paths (e.g.
    ``nn.TransformerEncoderLayer`` in eval) read ``.weight`` directly and would bypass the arrays;
    they are skipped for modules with hooks, and the tests check that no analog read is skipped."""
    return None


class AnalogModule(nn.Module):
    """Base of the analog layers (see the module docstring)."""

    config: AnalogConfig

    def _init_analog(self, config: AnalogConfig) -> None:
        self.config = config
        self.tiles = nn.ModuleDict()
        self.deployed_tiles = nn.ModuleDict()
        self._groups: dict[str, int] = {}
        self._weight_versions: dict[str, tuple[int, int]] = {}  # name -> (id, version) of the parameter
        self._tile_count = 0  # tiles placed so far: each gets its own seed
        # Examples (leading dimension of the layer's input) read by the layer: with each tile's read
        # count, the reads per example that the energy estimate needs (a patch per read in a
        # convolution, a time step per read in an LSTM).
        self.register_buffer("examples_read", torch.zeros((), dtype=torch.float64))
        self.register_forward_pre_hook(_refuse_fused_fast_paths)

    @property
    def computes_in_float32(self) -> bool:
        """Whether the layer computes in float32 devices (every kind but the ideal one)."""
        return not isinstance(self.config, IdealConfig)

    def _place(self, name: str, groups: int = 1) -> None:
        """Puts parameter ``name`` on tiles, ``groups`` of them (one per group)."""
        param = getattr(self, name)
        rows, cols = param.shape[0] // groups, math.prod(param.shape[1:])  # inputs per output, also without outputs
        tiles = nn.ModuleList()
        for index in range(groups):
            tile = make_tile(self.config, rows, cols, device=param.device)
            self._stream(tile, self._tile_count + index)
            tiles.append(tile)
        self._tile_count += groups
        self.tiles[name] = tiles
        self._groups[name] = groups
        if tiles[0].holds_weights:
            if param.dtype != torch.float32:
                raise ValueError(f"dtype: {self.config.kind} devices hold float32 weights, got {param.dtype}")
            self._register_owner(name)

    def _register_owner(self, name: str) -> None:
        param = getattr(self, name)
        key = id(param)
        _DEVICE_OWNERS[key] = (weakref.ref(param, lambda _: _DEVICE_OWNERS.pop(key, None)), weakref.ref(self), name)

    def _held_names(self) -> list[str]:
        return [name for name, tiles in self.tiles.items() if tiles[0].holds_weights]

    def _matrices(self, tensor: torch.Tensor, name: str) -> list[torch.Tensor]:
        """The per-tile 2-D views of a parameter-shaped tensor."""
        groups = self._groups[name]
        tiles = self.tiles[name]
        return list(tensor.view(groups, tiles[0].out_features, tiles[0].in_features).unbind(0))

    # ------------------------------------------------------------------------------------------
    # Initialisation and device updates
    # ------------------------------------------------------------------------------------------

    @torch.no_grad()
    def _program_devices(self) -> None:
        """In-situ tiles program the current weights into fresh devices, and the weights become
        what the devices hold."""
        for name in self._held_names():
            param = getattr(self, name)
            for tile, matrix in zip(self.tiles[name], self._matrices(param.data, name)):
                tile.initialize(matrix)
            self._weight_versions[name] = (id(param), param._version)

    def _check_weights_untouched(self) -> None:
        """Refuses a device-held weight that something other than the devices changed (a digital
        optimizer, an in-place write). A write of the same values (DistributedDataParallel's initial
        broadcast) is accepted."""
        if torch.compiler.is_compiling():
            return
        for name in self._held_names():
            param = getattr(self, name)
            if (id(param), param._version) == self._weight_versions.get(name):
                continue
            with torch.no_grad():
                held = all(torch.equal(matrix, tile.device_weight()) for tile, matrix in zip(self.tiles[name], self._matrices(param, name)))
            if not held:
                raise RuntimeError(
                    f"{type(self).__name__}({self.config.kind}): its {name} was changed outside the devices (by a digital "
                    "optimizer or an in-place write?); train it with analogtorch.optim.AnalogSGD"
                )
            self._weight_versions[name] = (id(param), param._version)

    @torch.no_grad()
    def check_device_update(self, name: str, delta: torch.Tensor) -> None:
        """Raises ValueError if the requested change of device-held ``name`` would be refused, and
        RuntimeError if the parameter no longer holds what the devices hold (a write through
        ``.data``, which no version counter sees, is caught here, before any update)."""
        self._check_weights_untouched()
        param = getattr(self, name)
        for tile, matrix, weight in zip(self.tiles[name], self._matrices(delta, name), self._matrices(param.detach(), name)):
            tile.check_update(matrix)
            if not torch.equal(weight, tile.device_weight()):
                raise RuntimeError(
                    f"{type(self).__name__}({self.config.kind}): its {name} was changed outside the devices (a write "
                    "through .data?); only analogtorch.optim.AnalogSGD changes device-held weights. Nothing was updated"
                )

    @torch.no_grad()
    def device_update_accepted(self, name: str, delta: torch.Tensor) -> torch.Tensor:
        """Whether :meth:`check_device_update` would pass, as a 0-dim bool tensor on the layer's
        device, computed without reading anything back from it (``AnalogSGD`` reads the answers of
        a whole step at once). True lets ``device_update(name, delta, checked=True)`` follow;
        False says only that :meth:`check_device_update` must tell why."""
        param = getattr(self, name)
        if (id(param), param._version) != self._weight_versions.get(name):
            # Written since the devices last wrote it: check_device_update compares the values.
            return torch.zeros((), dtype=torch.bool, device=self._device())
        answers = [tile.update_accepted(matrix, weight)
                   for tile, matrix, weight in zip(self.tiles[name], self._matrices(delta, name), self._matrices(param.detach(), name))]  # fmt: skip
        return torch.stack(answers).all()

    @torch.no_grad()
    def device_update(self, name: str, delta: torch.Tensor, *, checked: bool = False) -> None:
        """Applies a requested change (network units, the parameter's shape) through the devices.
        ``checked``: :meth:`device_update_accepted` said True (no value is checked again)."""
        param = getattr(self, name)
        if self.deployed_tiles:
            raise RuntimeError(f"{type(self).__name__}: it is programmed for inference; analogtorch.unprogram(model) returns it to training")
        for tile, matrix, weight in zip(self.tiles[name], self._matrices(delta, name), self._matrices(param.data, name)):
            tile.update(matrix, weight, checked=checked)
        self._weight_versions[name] = (id(param), param._version)

    # ------------------------------------------------------------------------------------------
    # Reads
    # ------------------------------------------------------------------------------------------

    def _check_input(self, x: Any, features: int, what: str = "input") -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{what}: expected a Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"{what}: expected a floating-point tensor, got {x.dtype}")
        if x.device != self._device():
            raise ValueError(f"{what}: expected a tensor on the layer's device ({self._device()}), got {x.device}")
        if self.deployed_tiles and self.training and torch.is_grad_enabled():
            raise RuntimeError(
                f"{type(self).__name__}: it is programmed for inference and cannot train (its weights are in PCM); "
                "use model.eval() or torch.no_grad() to evaluate it, or analogtorch.unprogram(model) to train again"
            )

    def _count_examples(self, examples: int) -> None:
        self.examples_read += examples

    def _device(self) -> torch.device:
        return next(iter(self.tiles.values()))[0].rng_state.device

    def _tile_read(self, name: str, x: torch.Tensor, *, index: int | None = None) -> torch.Tensor:
        """``x`` (``[N, groups * cols]``) through the tiles of parameter ``name``: ``[N, groups * rows]``,
        in ``x``'s dtype (``index``: through that tile only, ``[N, cols]`` -> ``[N, rows]``).
        Programmed layers read their deployed tiles."""
        weight = getattr(self, name)
        tiles = self.deployed_tiles[name] if self.deployed_tiles else self.tiles[name]
        matrices = self._matrices(weight, name)
        if index is not None:
            tiles, matrices = tiles[index : index + 1], matrices[index : index + 1]
        if not self.computes_in_float32 and not self.deployed_tiles:
            if x.dtype != weight.dtype and not torch.is_autocast_enabled(x.device.type):
                raise TypeError(f"input: expected {weight.dtype}, the layer's dtype (as torch's layers), got {x.dtype}")
            if len(tiles) == 1:
                return tiles[0].read(x, matrices[0])
        self._check_weights_untouched()
        dtype = x.dtype
        # The devices compute in float32 whatever autocast or the input would choose.
        with torch.autocast(device_type=x.device.type, enabled=False):
            x = x.float()
            if len(tiles) == 1:
                y = tiles[0].read(x, matrices[0].float())
            else:
                inputs = x.chunk(len(tiles), dim=-1)
                y = torch.cat([tile.read(part, matrix.float()) for tile, part, matrix in zip(tiles, inputs, matrices)], dim=-1)
        return y.to(dtype)

    # ------------------------------------------------------------------------------------------
    # Deployment
    # ------------------------------------------------------------------------------------------

    @torch.no_grad()
    def program(self, pcm: PCMDevice | None = None) -> None:
        """Programs the current weights into PCM pairs for inference (docs/physics.md section 2),
        at time 0 after programming; reads then go to the programmed devices."""
        if pcm is not None and not isinstance(pcm, PCMDevice):
            raise TypeError(f"pcm: expected a PCMDevice, got {type(pcm).__name__}")
        deployed = nn.ModuleDict()
        index = 0
        for name, tiles in self.tiles.items():
            weights = self._matrices(getattr(self, name).detach().float(), name)
            programmed = nn.ModuleList()
            for tile, weight in zip(tiles, weights):
                programmed.append(tile.program(weight, pcm, seed=tile_seed(self.config.seed, index)))
                index += 1
            deployed[name] = programmed
        self.deployed_tiles = deployed

    def _stream(self, tile: Tile, index: int) -> Tile:
        """Keys tile ``index`` of the layer with its own seed (a fresh tile: nothing drawn yet)."""
        tile.rng_state[0] = ops.make_rng_state(tile_seed(self.config.seed, index))[0]
        return tile

    def plan_time(self, time_s: float, *, drift_compensation: bool | str | None = ...) -> list:
        """What :meth:`set_time` would set, computed without changing anything."""
        if not self.deployed_tiles:
            raise RuntimeError(f"set_time: the {type(self).__name__} is not programmed; call analogtorch.program(model) first")
        return [(tile, tile.plan_time(time_s, drift_compensation=drift_compensation))
                for tiles in self.deployed_tiles.values() for tile in tiles]  # fmt: skip

    def set_time(self, time_s: float, *, drift_compensation: bool | str | None = ...) -> None:
        """Moves the programmed layer to ``time_s`` seconds after programming (drift, read noise);
        drift compensation as the configuration says (default on), or as given."""
        for tile, plan in self.plan_time(time_s, drift_compensation=drift_compensation):
            tile.commit_time(plan)

    @torch.no_grad()
    def unprogram(self) -> None:
        """Leaves deployment: the layer computes with its weights (and trains) again. What the
        programmed devices did (their reads) stays counted, with the tiles they were programmed from."""
        for name, deployed in self.deployed_tiles.items():
            for tile, programmed in zip(self.tiles[name], deployed):
                tile.counters += programmed.counters
        self.deployed_tiles = nn.ModuleDict()

    @property
    def programmed(self) -> bool:
        return len(self.deployed_tiles) > 0

    @torch.no_grad()
    def effective_weight(self, name: str = "weight") -> torch.Tensor:
        """What the layer computes with now, in the parameter's shape: the drifted, compensated
        weights when programmed, else the parameter (in-situ: what the devices hold)."""
        param = getattr(self, name)
        if not self.deployed_tiles:
            return param.detach().clone()
        drifted = [tile.drifted_weight() for tile in self.deployed_tiles[name]]
        return torch.stack(drifted).view_as(param).to(param.dtype)

    # ------------------------------------------------------------------------------------------
    # Introspection
    # ------------------------------------------------------------------------------------------

    def analog_tiles(self) -> Iterator[tuple[str, Tile]]:
        """Every tile the layer reads now (deployed ones when programmed), with a name."""
        source = self.deployed_tiles if self.deployed_tiles else self.tiles
        for name, tiles in source.items():
            for index, tile in enumerate(tiles):
                yield (name if len(tiles) == 1 else f"{name}[{index}]"), tile

    def tile_stats(self) -> dict[str, dict[str, Any]]:
        """Per tile (training and deployed counts together): its counters, shape, whether it trains in
        situ on capacitors, and its forward reads per example of the layer."""
        stats = {}
        examples = float(self.examples_read)
        for name, tiles in self.tiles.items():
            deployed = self.deployed_tiles[name] if name in self.deployed_tiles else [None] * len(tiles)
            for index, (tile, programmed) in enumerate(zip(tiles, deployed)):
                counts = tile.stats()
                if programmed is not None:
                    deployed_counts = programmed.stats()
                    counts.update({key: counts[key] + deployed_counts[key] for key in COUNTERS})
                counts.update(out_features=tile.out_features, in_features=tile.in_features, kind=self.config.kind,
                              row_blocks=tile.grid.row_blocks, col_blocks=tile.grid.col_blocks,
                              in_situ=tile.holds_weights, update_pulse=tile.update_pulse,
                              reads_per_example=counts["forward_reads"] / examples if examples else 1.0)  # fmt: skip
                stats[name if len(tiles) == 1 else f"{name}[{index}]"] = counts
        return stats

    def pulse_stats(self, images: int = 16_000) -> dict[str, dict[str, Any]]:
        """Per device-held parameter whose tiles track their pulses (``analogtorch.track_pulses``):
        the pulse statistics per weight scaled to ``images`` (``analogtorch.tiles.in_situ.summarise_pulses``)."""
        from ..tiles.in_situ import summarise_pulses

        return {name: summarise_pulses(self.tiles[name], images) for name in self._held_names()
                if self.tiles[name][0].pulse_statistics is not None}  # fmt: skip

    def analog_stats(self) -> dict[str, Any]:
        """What the simulated hardware did (summed over the layer's tiles, training and deployed):
        examples trained on, array reads (forward and transposed), converter operations, updates and
        pulses, transfers, refreshes, PCM programming pulses and verify reads, simulated seconds; the
        kind, and the tile shapes (rows = outputs, columns = inputs of each array)."""
        totals = dict.fromkeys(COUNTERS, 0)
        shapes = []
        for source in (self.tiles, self.deployed_tiles):
            for tiles in source.values():
                for tile in tiles:
                    counts = tile.stats()
                    for key in COUNTERS:
                        totals[key] += counts[key]
        arrays = 0
        for tiles in self.tiles.values():
            shapes += [[tile.out_features, tile.in_features] for tile in tiles]
            arrays += sum(tile.grid.arrays for tile in tiles)
        totals["arrays"] = arrays
        totals["kind"] = self.config.kind
        totals["tiles"] = shapes
        totals["in_situ"] = bool(self._held_names())
        totals["programmed"] = self.programmed
        return totals

    # ------------------------------------------------------------------------------------------
    # Moves, copies and state
    # ------------------------------------------------------------------------------------------

    def _apply(self, fn, recurse=True):
        if self.computes_in_float32:
            # Device state and device-held weights stay float32: a dtype move (model.double(),
            # .half()) applies to the digital parameters only, and says so.
            probe = torch.zeros((), dtype=torch.float32, device=self._device())
            moved = fn(probe)
            if moved.dtype != torch.float32:
                warnings.warn(
                    f"{type(self).__name__}({self.config.kind}): its devices and weights stay float32 under a move to "
                    f"{moved.dtype}; it computes in float32 and returns its input's dtype", stacklevel=3,
                )  # fmt: skip
                original = fn

                def fn(tensor, original=original):
                    return original(tensor).to(tensor.dtype) if tensor.is_floating_point() else original(tensor)

        super()._apply(fn, recurse)
        for name in self._held_names():
            self._register_owner(name)
            self._weight_versions[name] = (id(getattr(self, name)), getattr(self, name)._version)
        return self

    def __setstate__(self, state: dict) -> None:  # copy.deepcopy and unpickling
        super().__setstate__(state)
        for name in self._held_names():
            self._register_owner(name)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        # Validate everything before anything is copied: a refused state_dict leaves the layer as it was.
        self._check_incoming(state_dict, prefix)
        self._prepare_deployment(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)
        for name in self._held_names():
            self._weight_versions[name] = (id(getattr(self, name)), getattr(self, name)._version)

    def _check_incoming(self, state_dict: dict, prefix: str) -> None:
        """Refuses device state that no simulation could have produced, and a device-held weight that
        its incoming devices do not hold (or that comes without them)."""
        for name, tiles in self.tiles.items():
            for index, tile in enumerate(tiles):
                tile_prefix = f"{prefix}tiles.{name}.{index}."
                incoming = tile.check_incoming(state_dict, tile_prefix)
                if not tile.holds_weights:
                    continue
                weight = state_dict.get(prefix + name)
                device_keys = [key for key in tile.state_dict() if key in tile._state_spec() or key == "_extra_state"]
                present = [key for key in device_keys if tile_prefix + key in state_dict]
                if (weight is not None or present) and len(present) != len(device_keys):
                    missing = sorted(set(device_keys) - set(present))
                    raise ValueError(
                        f"state_dict: {tile_prefix}: incomplete device state (missing {missing}); a device-held weight "
                        "loads only with every device it lives in"
                    )
                if weight is None:
                    continue
                held = tile.weight_held_by(incoming)
                if not isinstance(weight, torch.Tensor) or weight.shape != getattr(self, name).shape:
                    continue  # load_state_dict reports the shape
                matrix = self._matrices(weight.float(), name)[index]
                if held is None or not torch.equal(held.to(matrix.device), matrix):
                    raise ValueError(f"state_dict: {prefix}{name}: does not match the weights its devices hold (a corrupted checkpoint?)")
        self._check_incoming_deployment(state_dict, prefix)

    def _deployed_keys(self, state_dict: dict, prefix: str) -> dict[str, dict[int, dict]]:
        """The deployed tiles an incoming state_dict holds: {name: {index: their extra state}}."""
        found: dict[str, dict[int, Any]] = {}
        head = prefix + "deployed_tiles."
        for key, value in state_dict.items():
            if not key.startswith(head) or not key.endswith("._extra_state"):
                continue
            parts = key[len(head):].split(".")
            if len(parts) == 3 and parts[1].isdigit():
                found.setdefault(parts[0], {})[int(parts[1])] = value
        return found

    def _shell_deployment(self, found: dict) -> nn.ModuleDict:
        deployed = nn.ModuleDict()
        for name, tiles in self.tiles.items():
            extras = found.get(name, {})
            if sorted(extras) != list(range(len(tiles))):
                raise ValueError(f"state_dict: deployed_tiles.{name}: expected {len(tiles)} deployed tile(s), got {sorted(extras)}")
            shells = nn.ModuleList()
            for index, tile in enumerate(tiles):
                extra = extras[index]
                if not isinstance(extra, dict) or not isinstance(extra.get("pcm"), dict):
                    raise ValueError(f"state_dict: deployed_tiles.{name}.{index}: expected a deployed tile's state, got {extra!r:.200}")
                try:
                    pcm = PCMDevice(**extra["pcm"])
                except (TypeError, ValueError) as error:
                    raise ValueError(f"state_dict: deployed_tiles.{name}.{index}: deployed pcm ({error})") from None
                shells.append(DeployedTile(tile.out_features, tile.in_features, self.config, pcm, device=self._device()))
            deployed[name] = shells
        if set(found) - set(self.tiles):
            raise ValueError(f"state_dict: deployed_tiles: unknown weights {sorted(set(found) - set(self.tiles))}")
        return deployed

    def _check_incoming_deployment(self, state_dict: dict, prefix: str) -> None:
        found = self._deployed_keys(state_dict, prefix)
        if not found:
            return
        shells = self._shell_deployment(found)
        for name, tiles in shells.items():
            for index, tile in enumerate(tiles):
                tile.check_incoming(state_dict, f"{prefix}deployed_tiles.{name}.{index}.")

    def _prepare_deployment(self, state_dict: dict, prefix: str) -> None:
        """A state_dict of a programmed layer loads into an unprogrammed one and back: the deployed
        tiles are built (or dropped) to match before the copy."""
        found = self._deployed_keys(state_dict, prefix)
        self.deployed_tiles = self._shell_deployment(found) if found else nn.ModuleDict()


def check_time(seconds: Any) -> float:
    """A time after programming: a finite number of seconds in [0, a century]."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"seconds: expected a number, got {type(seconds).__name__}")
    if not (seconds == seconds and 0 <= seconds <= MAX_TIME_S):
        raise ValueError(f"seconds: expected a number of seconds in [0, {MAX_TIME_S:g}] (a century), got {seconds!r}")
    return float(seconds)
