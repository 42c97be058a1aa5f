"""``AnalogLSTM``: a drop-in for ``nn.LSTM`` whose input-hidden and hidden-hidden weight matrices sit
on tiles. The input-hidden arrays read a whole sequence at once; the hidden-hidden arrays read the
hidden state once per time step. Gates, cell state and biases are digital.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..presets import AnalogConfig
from .base import AnalogModule, resolve_config
from .linear import analog_factory, check_features

__all__ = ["AnalogLSTM"]


class AnalogLSTM(AnalogModule):
    """Same constructor, attributes, parameter names and ``forward`` as ``nn.LSTM`` (plus ``config``);
    ``proj_size`` must be 0 and inputs are tensors (no ``PackedSequence``). Input ``[T, N, input_size]``
    (``[N, T, input_size]`` with ``batch_first``, or ``[T, input_size]``); returns ``output, (h_n, c_n)``
    in the input's dtype."""

    mode = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None, *,
                 config: AnalogConfig | None = None) -> None:  # fmt: skip
        super().__init__()
        check_features(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers, proj_size=proj_size)
        if hidden_size < 1 or num_layers < 1:
            raise ValueError(f"hidden_size and num_layers: expected >= 1, got {hidden_size} and {num_layers}")
        if proj_size != 0:
            raise ValueError(f"proj_size: expected 0 (AnalogLSTM has no projection of the hidden state), got {proj_size}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout: expected a probability in [0, 1], got {dropout!r}")
        config = resolve_config(config)
        factory = analog_factory(config, device, dtype)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        directions = 2 if bidirectional else 1
        gates = 4 * hidden_size
        self._flat_weights_names: list[str] = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = {"weight_ih": (gates, layer_input), "weight_hh": (gates, hidden_size)}
                if bias:
                    shapes |= {"bias_ih": (gates,), "bias_hh": (gates,)}
                for kind, shape in shapes.items():
                    setattr(self, kind + suffix, nn.Parameter(torch.empty(shape, **factory)))
                    self._flat_weights_names.append(kind + suffix)
        self._init_analog(config)
        for name in self._flat_weights_names:
            if name.startswith("weight_"):
                self._place(name)
        self.reset_parameters()

    @property
    def all_weights(self) -> list[list[nn.Parameter]]:
        step = 4 if self.bias else 2
        names = self._flat_weights_names
        return [[getattr(self, name) for name in names[i : i + step]] for i in range(0, len(names), step)]

    def reset_parameters(self) -> None:
        """``nn.LSTM``'s initialisation; in-situ tiles then program it into their devices."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for name in self._flat_weights_names:
            nn.init.uniform_(getattr(self, name), -bound, bound)
        self._program_devices()

    def forward(self, x: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor] | None = None):
        if isinstance(x, nn.utils.rnn.PackedSequence):
            raise TypeError("input: AnalogLSTM takes padded tensors, not a PackedSequence")
        self._check_input(x, self.input_size)
        if x.dim() not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(f"input: expected shape [T, N, {self.input_size}] (or batch first, or [T, {self.input_size}]), got {list(x.shape)}")
        batched = x.dim() == 3
        if not batched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        steps, batch = x.shape[0], x.shape[1]
        directions = 2 if self.bidirectional else 1
        if hx is None:
            zeros = x.new_zeros((self.num_layers * directions, batch, self.hidden_size))
            h0, c0 = zeros, zeros
        else:
            h0, c0 = hx
            if not batched:
                h0, c0 = h0.unsqueeze(1), c0.unsqueeze(1)
            expected = (self.num_layers * directions, batch, self.hidden_size)
            for name, state in (("h_0", h0), ("c_0", c0)):
                if tuple(state.shape) != expected:
                    raise ValueError(f"hx: expected {name} of shape {list(expected)}, got {list(state.shape)}")
        h_n, c_n = [], []
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                index = layer * directions + direction
                out, h, c = self._run_direction(layer_input, suffix, h0[index], c0[index], reverse=bool(direction))
                outputs.append(out)
                h_n.append(h)
                c_n.append(c)
            layer_input = torch.cat(outputs, dim=-1) if directions == 2 else outputs[0]
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, p=self.dropout)
        output, h_n, c_n = layer_input, torch.stack(h_n), torch.stack(c_n)
        self._count_examples(batch)
        if not batched:
            return output.squeeze(1), (h_n.squeeze(1), c_n.squeeze(1))
        if self.batch_first:
            output = output.transpose(0, 1)
        return output, (h_n, c_n)

    def _run_direction(self, x: torch.Tensor, suffix: str, h: torch.Tensor, c: torch.Tensor, reverse: bool):
        steps, batch = x.shape[0], x.shape[1]
        # The input-hidden array reads every time step's input at once.
        gates_x = self._tile_read("weight_ih" + suffix, x.reshape(steps * batch, -1)).view(steps, batch, -1)
        if self.bias:
            gates_x = gates_x + (getattr(self, "bias_ih" + suffix) + getattr(self, "bias_hh" + suffix)).to(gates_x.dtype)
        outputs = [None] * steps
        for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
            gates = gates_x[t] + self._tile_read("weight_hh" + suffix, h)
            i, f, g, o = gates.chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outputs[t] = h
        return torch.stack(outputs), h, c

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text + f", config={self.config.kind}"
