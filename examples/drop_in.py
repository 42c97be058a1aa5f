"""A user's own model, converted to analog hardware, trained in situ, then deployed and drifted.

    python examples/drop_in.py
"""

import torch
from torch import nn

import analogtorch
from analogtorch import presets
from analogtorch.optim import AnalogSGD


class SmallNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(32, 64), nn.ReLU())
        self.head = nn.Linear(64, 4)

    def forward(self, x):
        return self.head(self.features(x))


def main() -> None:
    torch.manual_seed(0)
    x = torch.randn(2048, 32)
    labels = (x @ torch.randn(32, 4)).argmax(1)

    model = analogtorch.convert_to_analog(SmallNet(), presets.ambrogio2018(transfer_every=1024))
    optimizer = AnalogSGD(model.parameters(), lr=0.05)
    for epoch in range(5):
        for i in range(0, len(x), 32):
            loss = nn.functional.cross_entropy(model(x[i : i + 32]), labels[i : i + 32])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch}: loss {loss.item():.3f}")

    model.eval()
    with torch.no_grad():
        accuracy = (model(x).argmax(1) == labels).float().mean().item()
        print(f"trained in situ: accuracy {100 * accuracy:.1f}%")
        analogtorch.program(model)
        for label, seconds in (("1 hour", 3600.0), ("1 year", 3.156e7)):
            analogtorch.set_time(model, seconds)
            accuracy = (model(x).argmax(1) == labels).float().mean().item()
            print(f"{label} after programming: accuracy {100 * accuracy:.1f}%")
    for name, stats in analogtorch.analog_stats(model).items():
        print(f"{name}: {stats['pulses']} capacitor pulses, {stats['transfers']} transfers, "
              f"{stats['programming_pulses']} PCM programming pulses")


if __name__ == "__main__":
    main()
