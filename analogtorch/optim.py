"""``AnalogSGD``: ``torch.optim.SGD`` for models with analog layers.

Digital parameters (biases, digital layers, hardware-aware weights) are updated exactly as by
``torch.optim.SGD``. The weights of in-situ ``AnalogLinear`` layers are updated through their devices:
the SGD change ``-lr * (grad + weight_decay * w)`` becomes capacitor pulses, the capacitors leak over
the simulated time of the examples seen, and transfers into PCM happen every ``transfer_every``
examples. Momentum and Nesterov apply to digital parameters only: the hardware holds no momentum.

A NaN or Inf gradient of a device-held weight never reaches the devices: by default the step raises
``ValueError`` before anything (device or digital) changes; ``nonfinite_grads="skip"`` skips the
whole step instead (as ``torch.amp.GradScaler`` does) and counts it in ``skipped_steps``.
"""

from __future__ import annotations

import warnings

import torch

from .nn.linear import device_owner

__all__ = ["AnalogSGD"]


class AnalogSGD(torch.optim.SGD):
    """A drop-in for ``torch.optim.SGD`` (same arguments) that trains in-situ analog layers through
    their devices. ``loss.backward(); opt.step()`` as usual; no user code touches device state.

    ``nonfinite_grads``: ``"raise"`` (default) or ``"skip"``, what a step does when a device-held
    weight's gradient holds NaN or Inf (see the module docstring)."""

    def __init__(self, params, *args, nonfinite_grads: str = "raise", **kwargs):
        if nonfinite_grads not in ("raise", "skip"):
            raise ValueError(f"nonfinite_grads: expected 'raise' or 'skip', got {nonfinite_grads!r}")
        super().__init__(params, *args, **kwargs)
        self.nonfinite_grads = nonfinite_grads
        self.skipped_steps = 0

    def _device_held(self) -> list[tuple[dict, torch.Tensor, object]]:
        return [
            (group, param, layer)
            for group in self.param_groups
            for param in group["params"]
            if param.grad is not None and (layer := device_owner(param)) is not None
        ]

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        device_held = self._device_held()
        # One check of every device-held gradient before anything changes: a refused or skipped step
        # leaves the devices and the digital parameters as they were.
        if device_held and not torch.stack([torch.isfinite(p.grad).all() for _, p, _ in device_held]).all():
            names = [
                f"AnalogLinear({layer.in_features}, {layer.out_features})"
                for _, p, layer in device_held
                if not torch.isfinite(p.grad).all()
            ]
            if self.nonfinite_grads == "raise":
                raise ValueError(
                    f"AnalogSGD: the gradient of {len(names)} device-held weight(s) ({', '.join(names)}) holds NaN "
                    "or Inf; nothing was updated (nonfinite_grads='skip' skips such steps)"
                )
            self.skipped_steps += 1
            if self.skipped_steps == 1:
                warnings.warn("AnalogSGD: skipped a step with NaN or Inf gradients (counted in skipped_steps)", stacklevel=2)
            return loss
        hidden = []
        for group, param, layer in device_held:
            grad = param.grad
            if group["weight_decay"] != 0:
                grad = grad.add(param, alpha=group["weight_decay"])
            direction = -1.0 if group["maximize"] else 1.0
            layer._device_update(grad * (-direction * group["lr"]))
            hidden.append((param, param.grad))
            param.grad = None  # keep the digital step away from device-held weights
        try:
            super().step()
        finally:
            for param, grad in hidden:
                param.grad = grad
        return loss
