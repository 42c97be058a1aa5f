"""The opt-in pulse record of the in-situ tiles (docs/physics.md 1.12): its counts are the pulses the
update ops returned, summed; it is off by default and holds nothing then; it changes no update; its
statistics scale to 16,000 images; the share of cells at a rail is counted where it is defined."""

import numpy as np
import pytest
import torch

import analogtorch
from analogtorch import _ops, presets
from analogtorch.optim import AnalogSGD
from analogtorch.tiles.in_situ import PULSE_REFERENCE_IMAGES, summarise_pulses

IN_SITU = {
    "ambrogio2018": lambda: presets.ambrogio2018(seed=3, transfer_every=8),
    "pcm_only": lambda: presets.pcm_only(seed=3),
}


def network(config, seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Sigmoid(), torch.nn.Linear(4, 3))
    return analogtorch.convert_to_analog(model, config)


def train(model, steps=6, batch=4, lr=0.5, seed=1):
    generator = torch.Generator().manual_seed(seed)
    optimizer = AnalogSGD(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        x = torch.randn(batch, 5, generator=generator)
        y = torch.randint(0, 3, (batch,), generator=generator)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def tiles_of(model):
    return [tile for layer in (model[0], model[2]) for tile in layer.tiles["weight"]]


def record_op(monkeypatch, name):
    """Wraps the update op ``name``: every call's returned tensors and arguments, in order."""
    calls = []
    original = getattr(_ops, name)

    def wrapper(*args, **kwargs):
        result = original(*args, **kwargs)
        calls.append((args, tuple(t.clone() for t in (result if isinstance(result, tuple) else (result,)))))
        return result

    monkeypatch.setattr(_ops, name, wrapper)
    return calls


def test_unit_cell_counts_are_the_capacitor_pulses_the_op_returned(monkeypatch):
    model = network(IN_SITU["ambrogio2018"]())
    analogtorch.track_pulses(model)
    calls = record_op(monkeypatch, "capacitor_step_")
    train(model, steps=6, batch=4)  # 24 examples: transfers after 8, 16 and 24; the polarity flips
    for tile in tiles_of(model):
        mine = [(args[7], pulses) for args, (pulses,) in calls if args[0] is tile.v_c]
        assert len(mine) == 6 and {polarity for polarity, _ in mine} == {1, -1}
        total = sum(pulses.abs().int() for _, pulses in mine)
        net = sum(polarity * pulses.int() for polarity, pulses in mine)  # the op's sign is g's; p makes it W's
        record = tile.pulse_statistics
        assert record["total"].dtype == torch.int32 and torch.equal(record["total"], total)
        assert torch.equal(record["net"], net) and int(total.sum()) > 0
        assert record["examples"] == 24 == int(tile.stats()["examples"]) and record["updates"] == 6
        assert record["rail_samples"] == 3 == tile.stats()["transfers"] and len(record["rail_share"]) == 3


def test_pcm_pair_counts_are_the_pulses_and_refreshes_the_op_returned(monkeypatch):
    model = network(presets.pcm_only(seed=3, refresh_fraction=0.3))  # refreshes early
    analogtorch.track_pulses(model)
    calls = record_op(monkeypatch, "pcm_pair_step_")
    train(model, steps=8, batch=4, lr=2.0)
    refreshed_in_all = 0
    for tile in tiles_of(model):
        mine = [result for args, result in calls if args[0] is tile.g_plus_us]
        assert len(mine) == 8
        record = tile.pulse_statistics
        assert torch.equal(record["total"], sum(pulses.abs().int() for pulses, _ in mine))
        assert torch.equal(record["net"], sum(pulses.int() for pulses, _ in mine))  # signed as W already
        refreshed = sum(int(refreshed.sum()) for _, refreshed in mine)
        assert int(record["railed"]) == refreshed == tile.stats()["refreshes"] and record["rail_samples"] == 8
        refreshed_in_all += refreshed
        summary = summarise_pulses([tile])
        assert summary["rail_sampled_at"] == "updates"
        assert summary["rail_share"] == pytest.approx(refreshed / (8 * tile.out_features * tile.in_features))
    assert refreshed_in_all > 0


@pytest.mark.parametrize("preset", sorted(IN_SITU))
def test_off_by_default_it_holds_nothing_and_is_not_saved(preset):
    model = network(IN_SITU[preset]())
    keys = set(model.state_dict())
    train(model, steps=2)
    assert all(tile.pulse_statistics is None for tile in tiles_of(model))
    assert analogtorch.pulse_stats(model) == {}
    analogtorch.track_pulses(model)
    train(model, steps=2)
    assert set(model.state_dict()) == keys  # a measurement, not device state
    assert set(analogtorch.pulse_stats(model)) == {"0", "2"}
    analogtorch.track_pulses(model, False)
    assert all(tile.pulse_statistics is None for tile in tiles_of(model)) and analogtorch.pulse_stats(model) == {}


@pytest.mark.parametrize("preset", sorted(IN_SITU))
def test_the_record_changes_no_update(preset):
    plain, tracked = network(IN_SITU[preset]()), network(IN_SITU[preset]())
    analogtorch.track_pulses(tracked)
    train(plain, steps=5)
    train(tracked, steps=5)
    for (name, value), (_, other) in zip(plain.state_dict().items(), tracked.state_dict().items()):
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, other), name


def test_statistics_scale_to_16000_images():
    model = network(IN_SITU["ambrogio2018"]())
    analogtorch.track_pulses(model)
    tile = model[0].tiles["weight"][0]
    values = torch.arange(20, dtype=torch.int32).view(4, 5)
    tile.pulse_statistics.update(total=values * 3, net=values - 10, examples=4000)
    summary = analogtorch.pulse_stats(model)["0"]
    assert summary["images"] == PULSE_REFERENCE_IMAGES == 16_000 and summary["scale"] == 4.0
    for key, raw in (("total", values * 3), ("net_abs", (values - 10).abs())):
        expected = np.percentile(raw.numpy(), [10, 50, 90])
        assert [summary[key + "_raw"][p] for p in ("p10", "p50", "p90")] == pytest.approx(expected)
        assert [summary[key][p] for p in ("p10", "p50", "p90")] == pytest.approx(4 * expected)
    assert summary["weights"] == 20 and summary["examples"] == 4000
    assert analogtorch.pulse_stats(model, images=8000)["0"]["total"]["p50"] == pytest.approx(2 * np.median(values * 3))
    # Before any tracked update there is nothing to scale.
    analogtorch.track_pulses(model)
    fresh = analogtorch.pulse_stats(model)["0"]
    assert fresh["total"] is None and fresh["scale"] is None and fresh["rail_share"] is None


def test_the_share_of_cells_at_a_rail_is_taken_just_before_each_transfer():
    model = network(presets.ambrogio2018(seed=3, transfer_every=1))
    analogtorch.track_pulses(model)
    tile = model[0].tiles["weight"][0]
    cap = tile.config.unit_cell.capacitor
    tile.read(torch.zeros(1, 5), tile.device_weight())  # one example read in training, for the update
    with torch.no_grad():
        tile.v_c[0] = cap.v_max_v - cap.rail_margin_v / 2  # near the top rail
        tile.v_c[1] = cap.v_t_v - 0.01  # below V_T: g cannot fall further
        tile.update(torch.zeros(4, 5), tile.device_weight())  # no pulses; the transfer follows
    summary = summarise_pulses([tile])
    assert summary["rail_sampled_at"] == "transfers" and summary["rail_samples"] == 1
    assert summary["rail_share"] == pytest.approx(0.5)  # 2 of 4 rows
    assert [float(share) for share in tile.pulse_statistics["rail_share"]] == pytest.approx([0.5])


def test_refusals_name_the_argument():
    with pytest.raises(ValueError, match="in-situ layer"):
        analogtorch.track_pulses(network(presets.hardware_aware()))
    model = network(IN_SITU["pcm_only"]())
    with pytest.raises(TypeError, match="enabled: expected a bool"):
        analogtorch.track_pulses(model, "yes")
    analogtorch.track_pulses(model)
    with pytest.raises(ValueError, match="images: expected an integer >= 1"):
        analogtorch.pulse_stats(model, images=0)
    with pytest.raises(ValueError, match="does not track its pulses"):
        summarise_pulses([network(IN_SITU["pcm_only"]())[0].tiles["weight"][0]])
