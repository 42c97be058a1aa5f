"""``AnalogSGD``: ``torch.optim.SGD`` for models with analog layers.

Digital parameters (biases, digital layers, hardware-aware weights) are updated exactly as by
``torch.optim.SGD``. The weights of in-situ ``AnalogLinear`` layers are updated through their devices:
the SGD change ``-lr * (grad + weight_decay * w)`` becomes capacitor pulses, the capacitors leak over
the simulated time of the examples seen, and transfers into PCM happen every ``transfer_every``
examples. Momentum and Nesterov apply to digital parameters only: the hardware holds no momentum.
"""

from __future__ import annotations

import torch

from .nn.linear import device_owner

__all__ = ["AnalogSGD"]


class AnalogSGD(torch.optim.SGD):
    """A drop-in for ``torch.optim.SGD`` (same arguments) that trains in-situ analog layers through
    their devices. ``loss.backward(); opt.step()`` as usual; no user code touches device state."""

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        hidden = []
        for group in self.param_groups:
            for param in group["params"]:
                layer = device_owner(param)
                if layer is None or param.grad is None:
                    continue
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
