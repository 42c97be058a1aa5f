"""The per-layer weight mapping calibrated to the capacitor's room (analogtorch.mapping,
docs/physics.md 1.11 step 6) and convert_to_analog's ``layer_configs``."""

import copy

import pytest
import torch
from torch import nn

import analogtorch
from analogtorch import presets
from analogtorch.mapping import layer_configs, room_fractions

CONFIG = presets.ambrogio2018()
PULSE_US = CONFIG.unit_cell.capacitor.dg_per_pulse_us
PROGRAMMABLE_US = CONFIG.unit_cell.gain_f * CONFIG.unit_cell.pcm.target_clip_us


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(20, 12), nn.Sigmoid(), nn.Linear(12, 4))


def examples(count, seed=1):
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(count, 20, generator=generator)
    y = torch.randint(0, 4, (count,), generator=generator)
    return [(x[i : i + 1], y[i : i + 1]) for i in range(count)]


def test_the_fraction_makes_a_typical_weight_move_by_the_net_pulses():
    # One weight row of three, initial largest weight 1; the loss's gradient is the input, so
    # N steps of lr move the first two weights by lr N and the third not at all: median lr N.
    layer = nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, -0.5, 0.25]]))
    data = [(torch.tensor([[1.0, 1.0, 0.0]]), torch.zeros(1))] * 100

    def loss(output, target):
        return output.sum()

    fractions = room_fractions(layer, data, 0.01, CONFIG, loss_fn=loss)
    assert fractions == {"": pytest.approx(100 * PULSE_US / (1.0 * PROGRAMMABLE_US), rel=1e-5)}
    # Moving little: the preset's fraction is the most a layer gets.
    assert room_fractions(layer, data[:2], 0.01, CONFIG, loss_fn=loss) == {"": CONFIG.unit_cell.weight_range_fraction}
    assert torch.equal(layer.weight, torch.tensor([[1.0, -0.5, 0.25]]))  # the model is not trained


def test_fractions_follow_the_movement_and_the_model_is_untouched():
    model = mlp()
    before = copy.deepcopy(model.state_dict())
    rng = torch.get_rng_state()
    fractions = room_fractions(model, examples(400), 0.05, CONFIG, net_pulses=5.0)
    assert set(fractions) == {"0", "2"}
    assert all(0 < fraction < CONFIG.unit_cell.weight_range_fraction for fraction in fractions.values())
    # Below the preset's cap a fraction is proportional to the net pulses asked for.
    doubled = room_fractions(model, examples(400), 0.05, CONFIG, net_pulses=10.0)
    assert doubled == {name: pytest.approx(2 * fraction, rel=1e-6) for name, fraction in fractions.items()}
    assert all(torch.equal(value, before[key]) for key, value in model.state_dict().items())
    assert torch.equal(torch.get_rng_state(), rng)


def test_converted_layers_take_their_own_fraction_and_seed():
    model = mlp()
    fractions = {"0": 0.5, "2": 0.05}
    analogtorch.convert_to_analog(model, CONFIG, layer_configs=layer_configs(CONFIG, fractions))
    for name, index in (("0", 0), ("2", 1)):
        tile = model.get_submodule(name).tiles["weight"][0]
        assert tile.config.unit_cell.weight_range_fraction == fractions[name]
        assert tile.config.seed == CONFIG.seed + index
        largest = mlp().get_submodule(name).weight.abs().max().item()
        assert float(tile.scale_us_per_unit) == pytest.approx(fractions[name] * PROGRAMMABLE_US / largest, rel=1e-6)


@pytest.mark.parametrize(
    "configs, error, message",
    [
        ({"9": CONFIG}, ValueError, "layer_configs: no module named '9' in the model"),
        ({"1": CONFIG}, ValueError, r"layer_configs: \['1'\] would not be converted"),
        ({"2": "ambrogio2018"}, TypeError, r"layer_configs\['2'\]: expected an analogtorch.presets.AnalogConfig, got str"),
    ],
)
def test_bad_layer_configs_are_refused_and_change_nothing(configs, error, message):
    model = mlp()
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(error, match=message):
        analogtorch.convert_to_analog(model, CONFIG, layer_configs=configs)
    assert all(isinstance(module, (nn.Linear, nn.Sigmoid)) for module in model)
    assert all(torch.equal(value, before[key]) for key, value in model.state_dict().items())


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: room_fractions(mlp(), examples(2), 0.0, CONFIG), ValueError, "lr: expected a finite number > 0, got 0.0"),
        (lambda: room_fractions(mlp(), examples(2), 0.1, presets.pcm_only()), TypeError, "config: expected a UnitCellConfig"),
        (lambda: room_fractions(mlp(), [], 0.1, CONFIG), ValueError, "examples: expected at least one"),
        (lambda: room_fractions(mlp(), examples(2), 0.1, CONFIG, net_pulses=-1), ValueError, "net_pulses: expected a finite number > 0"),
        (lambda: room_fractions(nn.ReLU(), examples(2), 0.1, CONFIG), ValueError, "model: it holds no layer with a weight matrix"),
        (lambda: room_fractions(mlp(), examples(5), 0.1, CONFIG, loss_fn=lambda out, _: out.sum() * float("nan")),
         ValueError, "the digital copy's loss became nan at example 0"),
        (lambda: room_fractions(mlp(), examples(5), 1e38, CONFIG, loss_fn=lambda out, _: out.sum()),
         ValueError, "the digital copy's loss became -inf at example 1"),
        (lambda: room_fractions(mlp(), examples(1), 1e38, CONFIG, loss_fn=lambda out, _: out.sum() * 1e10),
         ValueError, "the digital copy's weights became NaN or Inf"),
        (lambda: layer_configs(presets.hardware_aware(), {"0": 0.1}), TypeError, "config: expected a UnitCellConfig"),
    ],
)
def test_bad_calibration_inputs_are_refused_by_name(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_an_attention_layer_is_left_to_the_preset_and_the_model_still_converts():
    class Attending(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
            self.head = nn.Linear(8, 3)

        def forward(self, x):
            return self.head(self.attn(x, x, x)[0].mean(1))

    torch.manual_seed(0)
    model = Attending()
    data = [(torch.rand(1, 4, 8), torch.tensor([1])) for _ in range(20)]
    fractions = room_fractions(model, data, 0.1, CONFIG)
    assert set(fractions) == {"head"}  # the attention's projections are converted with it, whole
    analogtorch.convert_to_analog(model, CONFIG, layer_configs=layer_configs(CONFIG, fractions))
    assert isinstance(model.attn, analogtorch.AnalogMultiheadAttention) and isinstance(model.head, analogtorch.AnalogLinear)
