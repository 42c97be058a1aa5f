"""``AnalogMultiheadAttention``: a drop-in for ``nn.MultiheadAttention`` whose in-projection (query,
key and value arrays) and out-projection sit on tiles, so that ``nn.Transformer*`` layers read their
projections through analog arrays in training and in eval. The attention itself (scores, softmax,
weighted sum) is digital, as in the analog accelerators it models.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..presets import AnalogConfig, replace
from .base import AnalogModule, resolve_config, tile_seed
from .linear import AnalogLinear, analog_factory, check_features

__all__ = ["AnalogMultiheadAttention"]


class AnalogMultiheadAttention(AnalogModule):
    """Same constructor, attributes, parameters and ``forward`` as ``nn.MultiheadAttention`` (plus
    ``config``). ``in_proj_weight`` (or ``q_proj_weight``, ``k_proj_weight``, ``v_proj_weight`` when
    ``kdim``/``vdim`` differ from ``embed_dim``) is held as three arrays, one per projection;
    ``out_proj`` is an :class:`AnalogLinear`. Biases, ``bias_k`` and ``bias_v`` are digital."""

    __constants__ = ["batch_first"]

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True, add_bias_kv: bool = False,
                 add_zero_attn: bool = False, kdim: int | None = None, vdim: int | None = None, batch_first: bool = False,
                 device=None, dtype=None, *, config: AnalogConfig | None = None) -> None:  # fmt: skip
        super().__init__()
        check_features(embed_dim=embed_dim, num_heads=num_heads)
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads: expected > 0, got {embed_dim} and {num_heads}")
        if embed_dim % num_heads:
            raise ValueError(f"num_heads: expected to divide embed_dim ({embed_dim}), got {num_heads}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout: expected a probability in [0, 1], got {dropout!r}")
        config = resolve_config(config)
        factory = analog_factory(config, device, dtype)
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads, self.dropout, self.batch_first = num_heads, float(dropout), batch_first
        self.head_dim = embed_dim // num_heads
        if self._qkv_same_embed_dim:
            self.in_proj_weight = nn.Parameter(torch.empty((3 * embed_dim, embed_dim), **factory))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = nn.Parameter(torch.empty((embed_dim, embed_dim), **factory))
            self.k_proj_weight = nn.Parameter(torch.empty((embed_dim, self.kdim), **factory))
            self.v_proj_weight = nn.Parameter(torch.empty((embed_dim, self.vdim), **factory))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = nn.Parameter(torch.empty(3 * embed_dim, **factory))
        else:
            self.register_parameter("in_proj_bias", None)
        if add_bias_kv:
            self.bias_k = nn.Parameter(torch.empty((1, 1, embed_dim), **factory))
            self.bias_v = nn.Parameter(torch.empty((1, 1, embed_dim), **factory))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._init_analog(config)
        if self._qkv_same_embed_dim:
            self._place("in_proj_weight", groups=3)  # the query, key and value arrays
        else:
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self._place(name)
        # Its own seed, after the three projections' (tile seeds are the layer's + (i << 32)).
        out_config = replace(config, seed=tile_seed(config.seed, 3))
        self.out_proj = AnalogLinear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype, config=out_config)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """``nn.MultiheadAttention``'s initialisation; in-situ tiles then program it into their devices."""
        if self._qkv_same_embed_dim:
            nn.init.xavier_uniform_(self.in_proj_weight)
        else:
            nn.init.xavier_uniform_(self.q_proj_weight)
            nn.init.xavier_uniform_(self.k_proj_weight)
            nn.init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            nn.init.constant_(self.in_proj_bias, 0.0)
            nn.init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            nn.init.xavier_normal_(self.bias_k)
            nn.init.xavier_normal_(self.bias_v)
        self._program_devices()
        self.out_proj._program_devices()

    def _project(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """Projection ``index`` (0 query, 1 key, 2 value) of ``x`` ``[L, N, E_x]`` through its array."""
        flat = x.reshape(-1, x.shape[-1])
        if self._qkv_same_embed_dim:
            y = self._tile_read("in_proj_weight", flat, index=index)
        else:
            y = self._tile_read(("q_proj_weight", "k_proj_weight", "v_proj_weight")[index], flat)
        if self.in_proj_bias is not None:
            y = y + self.in_proj_bias[index * self.embed_dim : (index + 1) * self.embed_dim].to(y.dtype)
        return y.view(*x.shape[:-1], self.embed_dim)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, key_padding_mask: torch.Tensor | None = None,
                need_weights: bool = True, attn_mask: torch.Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:  # fmt: skip
        for name, tensor, features in (("query", query, self.embed_dim), ("key", key, self.kdim), ("value", value, self.vdim)):
            self._check_input(tensor, features, name)
            if tensor.dim() not in (2, 3) or tensor.shape[-1] != features:
                raise ValueError(f"{name}: expected shape [L, N, {features}], [N, L, {features}] or [L, {features}], got {list(tensor.shape)}")
        batched = query.dim() == 3
        if self.batch_first and batched:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        if not batched:
            query, key, value = (t.unsqueeze(1) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        tgt_len, batch, embed = query.shape
        heads, head_dim = self.num_heads, self.head_dim
        key_padding_mask = F._canonical_mask(mask=key_padding_mask, mask_name="key_padding_mask",
                                             other_type=F._none_or_dtype(attn_mask), other_name="attn_mask",
                                             target_type=query.dtype)  # fmt: skip
        if is_causal and attn_mask is None:
            raise RuntimeError("attn_mask: needed when is_causal is set (as in nn.MultiheadAttention)")
        if is_causal and key_padding_mask is None and not need_weights:
            attn_mask = None  # scaled_dot_product_attention applies the causal mask itself
        else:
            attn_mask = F._canonical_mask(mask=attn_mask, mask_name="attn_mask", other_type=None, other_name="",
                                          target_type=query.dtype, check_other=False)  # fmt: skip
            if key_padding_mask is not None:
                is_causal = False

        q, k, v = self._project(0, query), self._project(1, key), self._project(2, value)
        if attn_mask is not None and attn_mask.dim() == 2:
            attn_mask = attn_mask.unsqueeze(0)
        if self.bias_k is not None:
            k = torch.cat([k, self.bias_k.to(k.dtype).repeat(1, batch, 1)])
            v = torch.cat([v, self.bias_v.to(v.dtype).repeat(1, batch, 1)])
            attn_mask = None if attn_mask is None else F.pad(attn_mask, (0, 1))
            key_padding_mask = None if key_padding_mask is None else F.pad(key_padding_mask, (0, 1))
        q = q.reshape(tgt_len, batch * heads, head_dim).transpose(0, 1)
        k = k.reshape(k.shape[0], batch * heads, head_dim).transpose(0, 1)
        v = v.reshape(v.shape[0], batch * heads, head_dim).transpose(0, 1)
        if self.add_zero_attn:
            k = torch.cat([k, k.new_zeros((batch * heads, 1, head_dim))], dim=1)
            v = torch.cat([v, v.new_zeros((batch * heads, 1, head_dim))], dim=1)
            attn_mask = None if attn_mask is None else F.pad(attn_mask, (0, 1))
            key_padding_mask = None if key_padding_mask is None else F.pad(key_padding_mask, (0, 1))
        src_len = k.shape[1]
        if key_padding_mask is not None:
            padding = key_padding_mask.view(batch, 1, 1, src_len).expand(-1, heads, -1, -1).reshape(batch * heads, 1, src_len)
            attn_mask = padding if attn_mask is None else attn_mask + padding
        dropout_p = self.dropout if self.training else 0.0

        if need_weights:
            scores = q * math.sqrt(1.0 / head_dim)
            scores = torch.bmm(scores, k.transpose(-2, -1)) if attn_mask is None else torch.baddbmm(attn_mask, scores, k.transpose(-2, -1))
            weights = torch.softmax(scores, dim=-1)
            if dropout_p > 0.0:
                weights = F.dropout(weights, p=dropout_p)
            out = torch.bmm(weights, v).transpose(0, 1).reshape(tgt_len * batch, embed)
            weights = weights.view(batch, heads, tgt_len, src_len)
            if average_attn_weights:
                weights = weights.mean(dim=1)
        else:
            if attn_mask is not None:
                attn_mask = attn_mask.unsqueeze(0) if attn_mask.shape[0] == 1 else attn_mask.view(batch, heads, -1, src_len)
            out = F.scaled_dot_product_attention(
                q.view(batch, heads, tgt_len, head_dim), k.view(batch, heads, src_len, head_dim),
                v.view(batch, heads, src_len, head_dim), attn_mask, dropout_p, is_causal,
            )  # fmt: skip
            out = out.permute(2, 0, 1, 3).reshape(tgt_len * batch, embed)
            weights = None
        out = self.out_proj(out).view(tgt_len, batch, embed)
        self._count_examples(batch)
        if not batched:
            out = out.squeeze(1)
            weights = None if weights is None else weights.squeeze(0)
        elif self.batch_first:
            out = out.transpose(0, 1)
        return out, weights

    # Deployment covers the out-projection too: it is part of this layer.
    def program(self, pcm=None) -> None:
        super().program(pcm)
        self.out_proj.program(pcm)

    def plan_time(self, time_s, *, drift_compensation=...) -> list:
        return super().plan_time(time_s, drift_compensation=drift_compensation) + self.out_proj.plan_time(
            time_s, drift_compensation=drift_compensation
        )

    def unprogram(self) -> None:
        super().unprogram()
        self.out_proj.unprogram()

    def merge_masks(self, attn_mask, key_padding_mask, query):
        """As ``nn.MultiheadAttention.merge_masks`` (used by torch's transformer layers)."""
        return nn.MultiheadAttention.merge_masks(self, attn_mask, key_padding_mask, query)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}, config={self.config.kind}"
