"""Arrays and their periphery in hardware units (docs/physics.md section 3): the split over arrays,
scale invariance, bound management, the transposed read, drift compensation per array and per column."""

import pytest
import torch
from scipy import stats
from torch import nn

import analogtorch
from analogtorch import AnalogLinear, Periphery, presets
from analogtorch.optim import AnalogSGD
from analogtorch.tiles.periphery import Grid, block_max

QUIET_PCM = analogtorch.PCMDevice(programming="open_loop", drift=False, read_noise=False)


def converters_only(**periphery):
    """Digital weights read through the periphery only (no device noise): what the converters do."""
    return presets.ideal(periphery=Periphery(**periphery))


def relative_errors(layer: AnalogLinear, x: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        y = layer(x)
    return ((y - reference).norm(dim=1) / reference.norm(dim=1)).double()


def test_a_layer_larger_than_an_array_is_split_and_its_partial_sums_added():
    periphery = Periphery(array_rows=64, array_cols=32, in_bits=0, out_bits=0, out_noise=0.0)
    layer = AnalogLinear(150, 70, bias=False, config=presets.ideal(periphery=periphery)).eval()
    grid = layer.tiles["weight"][0].grid
    assert (grid.row_blocks, grid.col_blocks, grid.arrays) == (3, 3, 9)
    x = torch.randn(5, 150)
    torch.testing.assert_close(layer(x), x @ layer.weight.t(), rtol=1e-5, atol=1e-5)  # exact without converters
    counted = AnalogLinear(150, 70, config=presets.hardware_aware(array_rows=64, array_cols=32)).eval()
    counted(x)
    stats_ = counted.analog_stats()
    # Every array has its own converters: an input slice is converted once per array column it drives.
    assert stats_["arrays"] == 9 and stats_["forward_reads"] == 5
    assert stats_["dac_conversions"] == 5 * 150 * 3 and stats_["adc_conversions"] == 5 * 70 * 3


def test_each_array_converts_its_own_partial_sum():
    # One array: the ADC rounds the whole sum; two arrays: each half is rounded on its own scale.
    torch.manual_seed(0)
    x, weight = torch.randn(200, 64), torch.randn(8, 64)
    outputs = []
    for rows in (64, 32):
        layer = AnalogLinear(64, 8, bias=False, config=converters_only(array_rows=rows, out_noise=0.0)).eval()
        layer.weight.data.copy_(weight)
        outputs.append(layer(x))
    assert not torch.equal(outputs[0], outputs[1])
    exact = x @ weight.t()
    for y in outputs:  # 8-bit ADC steps of 12 / 127 full-scale reads on sums of about 1.5
        assert ((y - exact).norm() / exact.norm()) < 0.05


def test_block_max_per_array_and_per_column():
    weight = torch.arange(1.0, 13.0).view(3, 4)  # out 3, in 4
    grid = Grid(3, 4, Periphery(array_rows=2, array_cols=2))
    assert block_max(weight, grid, "column").tolist() == [[2.0, 6.0, 10.0], [4.0, 8.0, 12.0]]
    assert block_max(weight, grid, "array").tolist() == [[6.0, 6.0, 10.0], [8.0, 8.0, 12.0]]


@pytest.mark.parametrize("preset", ["converters", "hardware_aware"])
def test_relative_error_does_not_depend_on_the_scale_of_activations(preset):
    # Inputs scaled by 10 or 0.1 and weights inversely: the same hardware sees the same signals, so
    # the relative output error has the same distribution (two-sample Kolmogorov-Smirnov test on
    # 2,000 input vectors, p > 0.01 for both scales; the errors themselves are several percent).
    torch.manual_seed(0)
    x, weight = torch.randn(2000, 16), torch.randn(4, 16) * 0.3
    config = converters_only(out_noise=0.04) if preset == "converters" else presets.hardware_aware(pcm=QUIET_PCM)
    errors = {}
    for scale in (1.0, 10.0, 0.1):
        layer = AnalogLinear(16, 4, bias=False, config=config).eval()
        layer.weight.data.copy_(weight / scale)
        errors[scale] = relative_errors(layer, x * scale, x @ weight.t())
    assert errors[1.0].median() > 1e-3  # the periphery does add error
    for scale in (10.0, 0.1):
        assert stats.ks_2samp(errors[1.0].numpy(), errors[scale].numpy()).pvalue > 0.01, scale


def test_a_fixed_input_range_is_not_scale_invariant():
    # The control of the test above: clipping at a fixed range in network units does depend on scale.
    torch.manual_seed(0)
    x, weight = torch.randn(2000, 16), torch.randn(4, 16) * 0.3
    config = converters_only(input_scaling="fixed", in_bound=1.0, out_noise=0.04)
    errors = {}
    for scale in (1.0, 0.1):
        layer = AnalogLinear(16, 4, bias=False, config=config).eval()
        layer.weight.data.copy_(weight / scale)
        errors[scale] = relative_errors(layer, x * scale, x @ weight.t())
    assert stats.ks_2samp(errors[1.0].numpy(), errors[0.1].numpy()).pvalue < 1e-6


def test_bound_management_rereads_saturated_outputs_and_counts_them():
    torch.manual_seed(0)
    x = torch.rand(500, 64)  # all-positive inputs: large sums of a positive weight
    weight = torch.rand(4, 64)
    results = {}
    for managed in (False, True):
        config = converters_only(out_bound=8.0, out_noise=0.0, bound_management=managed, max_rereads=3)
        layer = AnalogLinear(64, 4, bias=False, config=config).eval()
        layer.weight.data.copy_(weight)
        results[managed] = (relative_errors(layer, x, x @ weight.t()).mean(), layer.tiles["weight"][0].stats()["rereads"])
    (clipped_error, no_rereads), (managed_error, rereads) = results[False], results[True]
    assert no_rereads == 0 and clipped_error > 0.3  # sums of ~16 full-scale reads saturate at 8
    assert managed_error < 0.02 and rereads >= 500  # every vector re-read at least once


def test_bound_management_is_on_by_default_wherever_there_is_an_adc():
    for config in (presets.hardware_aware(), presets.ambrogio2018(), presets.pcm_only(), Periphery()):
        periphery = config if isinstance(config, Periphery) else config.periphery
        assert periphery.bound_management
    assert not presets.ideal().periphery.bound_management  # no ADC: nothing saturates


@pytest.mark.parametrize("managed", [True, False])
def test_drift_compensation_keeps_a_saturating_layer_s_function_only_with_bound_management(managed):
    # Compensation scales each array's sums back after the ADC, so without bound management the
    # clipping level in network units grows as the devices drift and the layer computes another
    # function (docs/physics.md 3.5). With it, a year of drift is undone up to the spread of the
    # drift exponents.
    torch.manual_seed(0)
    pcm = analogtorch.PCMDevice(programming="open_loop", read_noise=False)
    config = presets.hardware_aware(pcm=pcm, out_noise=0.0, bound_management=managed)
    layer = AnalogLinear(256, 16, bias=False, config=config).eval()
    layer.weight.data.copy_(torch.rand(16, 256))  # all positive, like the inputs: sums of ~64 full-scale reads
    x = torch.rand(200, 256)
    model = analogtorch.program(nn.Sequential(layer))
    with torch.no_grad():
        at_programming = model(x)
        analogtorch.set_time(model, 3.15e7, drift_compensation="global")
        a_year_later = model(x)
    change = ((a_year_later - at_programming).norm() / at_programming.norm()).item()
    exact = x @ layer.weight.detach().t()
    error_at_programming = ((at_programming - exact).norm() / exact.norm()).item()
    if managed:
        assert error_at_programming < 0.05 and change < 0.05, (error_at_programming, change)
    else:  # clipped at 12 full-scale reads, then at about twice that after a year
        assert error_at_programming > 0.5 and change > 0.5, (error_at_programming, change)


def test_the_transposed_read_scales_the_error_vector_and_stays_close_to_exact():
    torch.manual_seed(0)
    config = presets.ambrogio2018(periphery=Periphery(array_rows=16, array_cols=8))
    layer = AnalogLinear(40, 20, bias=False, config=config)
    errors = []
    for scale in (1.0, 1e-4):  # the error vector's scale does not matter: it is scaled per vector
        torch.manual_seed(1)
        x = torch.rand(256, 40, requires_grad=True)
        grad_y = torch.randn(256, 20) * scale
        layer.weight.grad = None
        layer(x).backward(grad_y)
        exact = grad_y @ layer.weight.detach()
        errors.append(((x.grad - exact).norm() / exact.norm()).item())
    # Small arrays (8 error inputs per array): output noise and ADC steps are a sizeable part of
    # each partial sum; the same part at either scale.
    assert all(1e-3 < error < 0.25 for error in errors), errors
    assert abs(errors[0] / errors[1] - 1) < 0.1, errors
    # The weight gradient is digital: the outer product with the input the DAC delivered.
    assert torch.isfinite(layer.weight.grad).all()


@pytest.mark.parametrize("compensation", ["global", "column"])
def test_drift_compensation_per_array_and_per_column(compensation):
    torch.manual_seed(0)
    config = presets.hardware_aware(periphery=Periphery(array_rows=32, out_noise=0.0, in_bits=0, out_bits=0))
    model = nn.Sequential(AnalogLinear(64, 10, bias=False, config=config))
    analogtorch.program(model)
    analogtorch.set_time(model, 3.15e7, drift_compensation=compensation)
    tile = model[0].deployed_tiles["weight"][0]
    factors = tile.compensation
    assert factors.shape == (2, 10) and (factors > 1.0).all()  # drift shrinks conductances
    if compensation == "global":
        assert torch.equal(factors, factors[:, :1].expand_as(factors))  # one factor per array
    else:
        assert not torch.equal(factors, factors[:, :1].expand_as(factors))  # one per column
        # Each column's calibration response is restored to its reference (up to read noise).
        weight, variance = tile._current()
        current = tile._calibration_response(weight * analogtorch.tiles.periphery.expand_blocks(factors.float(), tile.grid), None, None, "column")
        torch.testing.assert_close(current, tile.reference, rtol=0.05, atol=0)
    analogtorch.set_time(model, 3.15e7, drift_compensation=None)
    assert torch.equal(tile.compensation, torch.ones_like(tile.compensation))


def test_drift_compensation_is_a_configuration_choice():
    assert presets.hardware_aware(drift_compensation=True).drift_compensation == "global"
    assert presets.hardware_aware(drift_compensation=False).drift_compensation is None
    assert presets.ambrogio2018(drift_compensation="column").drift_compensation == "column"
    with pytest.raises(ValueError, match=r"drift_compensation: expected one of \('global', 'column', None\)"):
        presets.hardware_aware(drift_compensation="no")


def test_periphery_fields_are_validated_by_name():
    for field, value, error in [("array_rows", 0, ValueError), ("input_scaling", "max", ValueError),
                                ("weight_mapping", "row", ValueError), ("max_rereads", 0, ValueError),
                                ("bound_management", 1, TypeError), ("out_bound", 0.0, ValueError)]:  # fmt: skip
        with pytest.raises(error, match=field):
            Periphery(**{field: value})


def test_in_situ_training_with_split_arrays_learns():
    torch.manual_seed(0)
    config = presets.ambrogio2018(transfer_every=64, periphery=Periphery(array_rows=8, array_cols=4))
    model = nn.Sequential(AnalogLinear(12, 10, config=config), nn.Sigmoid(), AnalogLinear(10, 3, config=config))
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(256, 12, generator=generator)
    labels = (x @ torch.randn(12, 3, generator=generator)).argmax(1)
    optimizer = AnalogSGD(model.parameters(), lr=0.1)
    losses = []
    for step in range(300):
        i = (step * 8) % 256
        loss = nn.functional.cross_entropy(model(x[i : i + 8]), labels[i : i + 8])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-30:]) < 0.8 * sum(losses[:30])
    assert model[0].analog_stats()["arrays"] == 6
