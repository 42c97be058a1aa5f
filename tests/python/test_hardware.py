"""The energy and time estimate: counters that match what the layers did, and the arithmetic on
hand-computed cases."""

import math

import pytest
import torch
from torch import nn

import analogtorch
from analogtorch import AnalogLinear, presets
from analogtorch.hardware import DigitalBaseline, HardwareCosts, estimate
from analogtorch.optim import AnalogSGD

# Costs that make every event's share readable in the totals: powers of ten per kind of event.
COSTS = HardwareCosts(
    cell_read_j=1.0, dac_conversion_j=10.0, adc_conversion_j=100.0, capacitor_pulse_j=1e3, pcm_set_pulse_j=1e4,
    pcm_reset_j=1e5, read_time_s=1.0, update_time_s=10.0, program_verify_time_s=100.0, unit_cell_area_um2=1e6,
)  # fmt: skip


def train(model, steps, batch, evaluate_every=0):
    generator = torch.Generator().manual_seed(0)
    optimizer = AnalogSGD(model.parameters(), lr=0.5)
    in_features = model[0].in_features
    for step in range(steps):
        x = torch.rand(batch, in_features, generator=generator)
        loss = nn.functional.cross_entropy(model(x), torch.zeros(batch, dtype=torch.long))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if evaluate_every and (step + 1) % evaluate_every == 0:
            with torch.no_grad():
                model(x)


@pytest.mark.parametrize("config", [presets.ambrogio2018(transfer_every=12), presets.pcm_only()], ids=["in_situ", "pcm_only"])
def test_counters_match_what_the_layers_did(config):
    torch.manual_seed(0)
    model = nn.Sequential(AnalogLinear(5, 4, config=config), nn.Sigmoid(), AnalogLinear(4, 3, config=config))
    train(model, steps=10, batch=6, evaluate_every=5)  # 60 training examples, 2 evaluations of 6
    for name, (rows, cols) in {"0": (5, 4), "2": (4, 3)}.items():
        stats = analogtorch.analog_stats(model)[name]
        assert stats["examples"] == 60 and stats["updates"] == 10
        assert stats["backward_reads"] == 60 and stats["forward_reads"] == 60 + 12
        # a DAC per row and an ADC per column forward; swapped in the transposed read
        assert stats["dac_conversions"] == 72 * rows + 60 * cols
        assert stats["adc_conversions"] == 72 * cols + 60 * rows
        if isinstance(config, presets.UnitCellConfig):
            assert stats["transfers"] == 60 // 12
        assert stats["pulses"] > 0 and stats["programming_iterations"] >= 0


def test_hardware_aware_counts_forward_reads_only():
    layer = AnalogLinear(8, 2, config=presets.hardware_aware())
    layer(torch.rand(3, 4, 8)).sum().backward()
    stats = layer.analog_stats()
    assert (stats["forward_reads"], stats["backward_reads"], stats["examples"]) == (12, 0, 0)
    assert stats["dac_conversions"] == 12 * 8 and stats["adc_conversions"] == 12 * 2


def test_inference_arithmetic_by_hand():
    model = nn.Sequential(AnalogLinear(4, 2, config=presets.hardware_aware()), AnalogLinear(2, 3, config=presets.hardware_aware()))
    result = estimate(model, COSTS)
    # One read of each array: cells x 1 + rows x 10 (DAC) + columns x 100 (ADC).
    energy = (8 + 4 * 10 + 2 * 100) + (6 + 2 * 10 + 3 * 100)
    assert result.inference["energy_j"] == energy
    assert result.inference["time_s"] == 2.0  # two layers, one after the other
    assert result.inference["ops"] == 2 * (8 + 6)
    assert result.inference["ops_per_s_per_w"] == 28 / energy
    assert result.inference["ops_per_s_per_mm2"] == 28 / 2.0 / 14.0  # 14 cells of 1 mm^2
    assert result.training is None  # no layer trained in situ


def test_training_arithmetic_by_hand():
    torch.manual_seed(1)
    model = nn.Sequential(AnalogLinear(3, 2, config=presets.ambrogio2018(transfer_every=8)))
    train(model, steps=4, batch=4)
    stats = model[0].analog_stats()
    assert stats["examples"] == 16 and stats["transfers"] == 2
    result = estimate(model, COSTS)
    read = 6 * 1 + 3 * 10 + 2 * 100  # forward: DAC per row (3), ADC per column (2)
    transposed = 6 * 1 + 2 * 10 + 3 * 100
    energy = (
        16 * (read + transposed)
        + stats["pulses"] * 1e3
        + 2 * 6 * 2 * 1e5  # two transfers RESET both devices of 6 cells
        + stats["programming_pulses"] * 1e4
        + stats["programming_iterations"] * (1 + 100)  # a verify read: one device through one ADC
    )
    time = 2 * 16 * 1.0 + 4 * 10.0 + stats["programming_iterations"] / 2 * 100.0
    ops = 2 * 6 * (2 * 16 + 4)
    assert result.training["energy_j"] == pytest.approx(energy / 16, rel=1e-12)
    assert result.training["time_s"] == pytest.approx(time / 16, rel=1e-12)
    assert result.training["ops"] == pytest.approx(ops / 16, rel=1e-12)
    assert sum(result.training["energy_shares"].values()) == pytest.approx(1.0)


def test_digital_baseline_is_flops_times_energy():
    model = nn.Sequential(AnalogLinear(10, 5, config=presets.hardware_aware()))
    baseline = DigitalBaseline(energy_per_flop_j=2.0, flops_per_s=4.0, die_area_mm2=8.0)
    result = estimate(model, baseline=baseline)
    assert result.digital_inference["energy_j"] == 2 * 50 * 2.0
    assert result.digital_training["energy_j"] == 6 * 50 * 2.0
    assert result.digital_training["time_s"] == 6 * 50 / 4.0
    assert result.digital_inference["ops_per_s_per_mm2"] == 4.0 / 8.0


def test_the_papers_network_lands_in_the_order_of_the_papers_figures():
    # Ambrogio et al. 2018 project 28,065 GOP/s/W and 3.6 TOP/s/mm^2 for their design. The default
    # costs, with the counts of a short in-situ run of the paper's network, give the same orders of
    # magnitude (a tenth to ten times), and two or more orders beyond the digital baseline.
    torch.manual_seed(0)
    digital = nn.Sequential(nn.Linear(784, 250), nn.Sigmoid(), nn.Linear(250, 125), nn.Sigmoid(), nn.Linear(125, 10))
    model = analogtorch.convert_to_analog(digital, presets.ambrogio2018(transfer_every=1000))
    train(model, steps=40, batch=64)
    result = estimate(model)
    efficiency = result.training["ops_per_s_per_w"]
    density = result.training["ops_per_s_per_mm2"]
    assert 28_065e9 / 10 < efficiency < 28_065e9 * 10
    assert 3.6e12 / 10 < density < 3.6e12 * 10
    assert efficiency > 100 * result.digital_training["ops_per_s_per_w"]
    assert "Training energy by event" in result.table()


def test_bad_costs_and_arguments_are_refused_by_name():
    with pytest.raises(ValueError, match="cell_read_j: expected a finite number >= 0"):
        HardwareCosts(cell_read_j=-1.0)
    with pytest.raises(ValueError, match="unit_cell_area_um2: expected a finite number > 0"):
        HardwareCosts(unit_cell_area_um2=0.0)
    with pytest.raises(ValueError, match="flops_per_s: expected a finite number > 0"):
        DigitalBaseline(flops_per_s=math.inf)
    model = nn.Sequential(AnalogLinear(2, 2))
    with pytest.raises(TypeError, match="costs: expected a HardwareCosts"):
        estimate(model, costs={"cell_read_j": 1.0})
    with pytest.raises(ValueError, match="model: it holds no analog layer"):
        estimate(nn.Linear(2, 2))
