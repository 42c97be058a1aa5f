"""Checkpoints: atomic saves, and truncated, corrupted or mismatched states refused with the model
left exactly as it was."""

import copy
import re
import zipfile

import pytest
import torch
from torch import nn

import analogtorch
from analogtorch import AnalogLinear, presets
from analogtorch.checkpoint import load_state_dict
from analogtorch.optim import AnalogSGD


def mlp(config, seed=0, hidden=10):
    torch.manual_seed(seed)
    return nn.Sequential(
        AnalogLinear(12, hidden, config=presets.replace(config, seed=seed)),
        nn.Sigmoid(),
        AnalogLinear(hidden, 3, config=presets.replace(config, seed=seed + 1)),
    )


def train(model, steps, start=0, optimizer=None):
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(256, 12, generator=generator)
    labels = (x @ torch.randn(12, 3, generator=generator)).argmax(1)
    optimizer = optimizer or AnalogSGD(model.parameters(), lr=0.1, momentum=0.5)
    losses = []
    for step in range(start, start + steps):
        i = (step * 8) % 256
        loss = nn.functional.cross_entropy(model(x[i : i + 8]), labels[i : i + 8])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def snapshot(model):
    return copy.deepcopy(model.state_dict())


def assert_unchanged(model, before):
    after = model.state_dict()
    assert after.keys() == before.keys()
    for key, value in after.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, before[key]), key
        else:
            assert value == before[key], key


CONFIGS = [
    presets.ambrogio2018(transfer_every=48),
    presets.pcm_only(),
    presets.hardware_aware(),
    presets.replace(presets.hardware_aware(), device_noise_every=3),  # saved mid-way through a draw's forwards
]
IDS = ["ambrogio2018", "pcm_only", "hardware_aware", "hardware_aware_every_3"]


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_a_checkpoint_resumes_training_bit_identically(tmp_path, config):
    uninterrupted = mlp(config)
    losses = train(uninterrupted, 20)

    first = mlp(config)
    optimizer = AnalogSGD(first.parameters(), lr=0.1, momentum=0.5)
    losses_a = train(first, 10, optimizer=optimizer)
    analogtorch.save_checkpoint(first, tmp_path / "run.pt", extra={"optimizer": optimizer.state_dict()})

    resumed = mlp(config, seed=5)
    resumed_optimizer = AnalogSGD(resumed.parameters(), lr=0.1, momentum=0.5)
    extra = analogtorch.load_checkpoint(resumed, tmp_path / "run.pt")
    resumed_optimizer.load_state_dict(extra["optimizer"])
    losses_b = train(resumed, 10, start=10, optimizer=resumed_optimizer)
    assert losses_a + losses_b == losses


def test_saving_is_atomic_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    model = mlp(presets.ambrogio2018())
    path = tmp_path / "model.pt"
    analogtorch.save_checkpoint(model, path)
    old_bytes = path.read_bytes()

    def save_then_fail(obj, file):
        file.write(b"half a checkpoint")
        raise OSError("disk full")

    train(model, 3)
    monkeypatch.setattr(torch, "save", save_then_fail)
    with pytest.raises(OSError, match="disk full"):
        analogtorch.save_checkpoint(model, path)
    assert path.read_bytes() == old_bytes
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temporary file left behind


def test_save_refuses_a_missing_directory_and_a_non_module(tmp_path):
    with pytest.raises(ValueError, match="path: the directory .* does not exist"):
        analogtorch.save_checkpoint(mlp(presets.ideal()), tmp_path / "nope" / "model.pt")
    with pytest.raises(TypeError, match="model: expected an nn.Module"):
        analogtorch.save_checkpoint({"weight": torch.zeros(1)}, tmp_path / "model.pt")


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip_a_tensor_byte(path):
    # Flip one byte inside a stored tensor's data (zip members are stored uncompressed).
    with zipfile.ZipFile(path) as archive:
        info = max((i for i in archive.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
        header = 30 + len(info.filename.encode()) + len(info.extra)
        offset = info.header_offset + header + info.file_size // 2
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))


def _plain_torch_save(path):
    torch.save({"0.weight": torch.zeros(10, 12)}, path)


def _garbage(path):
    path.write_bytes(b"not a checkpoint at all" * 10)


@pytest.mark.parametrize(
    "damage, message",
    [
        (_truncate, "unreadable"),
        (_flip_a_tensor_byte, "do not match their SHA-256 digest"),
        (_plain_torch_save, "not an analogtorch checkpoint"),
        (_garbage, "unreadable"),
    ],
    ids=["truncated", "flipped_byte", "plain_state_dict", "garbage"],
)
def test_a_damaged_file_is_refused_and_the_model_is_untouched(tmp_path, damage, message):
    path = tmp_path / "model.pt"
    analogtorch.save_checkpoint(mlp(presets.ambrogio2018(), seed=3), path)
    damage(path)
    model = mlp(presets.ambrogio2018())
    before = snapshot(model)
    with pytest.raises(ValueError, match=message):
        analogtorch.load_checkpoint(model, path)
    assert_unchanged(model, before)
    with pytest.raises(ValueError, match="path: no checkpoint file"):
        analogtorch.load_checkpoint(model, tmp_path / "missing.pt")


@pytest.mark.parametrize(
    "other",
    [
        lambda: mlp(presets.ambrogio2018(), hidden=9),  # another shape
        lambda: mlp(presets.ambrogio2018(transfer_every=100)),  # another configuration
        lambda: mlp(presets.pcm_only()),  # another mode
    ],
    ids=["shape", "config", "mode"],
)
def test_a_mismatched_model_is_refused_all_or_nothing(tmp_path, other):
    path = tmp_path / "other.pt"
    analogtorch.save_checkpoint(other(), path)
    model = mlp(presets.ambrogio2018())
    train(model, 2)
    before = snapshot(model)
    with pytest.raises((ValueError, RuntimeError)):
        analogtorch.load_checkpoint(model, path)
    assert_unchanged(model, before)


def test_the_last_layer_refusing_restores_the_first(tmp_path):
    # nn.Module.load_state_dict copies module by module: the first layer would keep the new state.
    model = mlp(presets.ambrogio2018())
    source = mlp(presets.ambrogio2018(), seed=7)
    state = source.state_dict()
    state["2.tiles.weight.0.g_plus_us"] = state["2.tiles.weight.0.g_plus_us"].clone().fill_(float("nan"))
    before = snapshot(model)
    with pytest.raises(ValueError, match=r"2.tiles.weight.0.g_plus_us: expected finite values"):
        load_state_dict(model, state)
    assert_unchanged(model, before)


def corrupt(name, value):
    def change(state):
        state[name] = value(state[name]) if callable(value) else value

    return change


def corrupt_extra(field, value):
    def change(state):
        extra = dict(state["0.tiles.weight.0._extra_state"])
        extra[field] = value
        state["0.tiles.weight.0._extra_state"] = extra

    return change


def drop(name):
    def change(state):
        del state[name]

    return change


T = "0.tiles.weight.0."  # the first layer's tile


@pytest.mark.parametrize(
    "change, message",
    [
        (corrupt(T + "g_plus_us", lambda t: t.clone().fill_(float("nan"))), T + "g_plus_us: expected finite values in"),
        (corrupt(T + "g_minus_us", lambda t: t + 100.0), T + "g_minus_us: expected finite values in [0.0, 25.0]"),
        (corrupt(T + "g_plus_us", lambda t: -t - 1.0), T + "g_plus_us: expected finite values in [0.0, 25.0]"),
        (corrupt(T + "v_c", lambda t: t + 5.0), T + "v_c: expected finite values in [0.0, 1.0]"),
        (corrupt(T + "v_c", lambda t: t.double()), T + "v_c: expected a torch.float32 tensor of shape [10, 12]"),
        (corrupt(T + "variation", lambda t: t[..., :2]), T + "variation: expected a torch.int8 tensor of shape [10, 12, 3]"),
        (corrupt(T + "rng_state", lambda t: t.int()), T + "rng_state: expected a torch.int64 tensor of shape [2]"),
        (corrupt(T + "rng_state", torch.zeros(3, dtype=torch.int64)), T + "rng_state: expected a torch.int64 tensor"),
        (corrupt("0.weight", lambda t: t + 1e-3), "0.weight: does not match the weights its devices hold"),
        (corrupt(T + "_extra_state", "garbage"), "expected the state of a UnitCellTile (format 3)"),
        (corrupt_extra("format", 1), "expected the state of a UnitCellTile (format 3)"),
        (corrupt_extra("config", {"mode": "in_situ"}), "expected a UnitCellTile config with the fields"),
        (corrupt(T + "polarity", torch.tensor(0)), T + "polarity: expected +1 or -1, got 0"),
        (corrupt(T + "polarity", torch.tensor(3)), T + "polarity: expected finite values in [-1, 1]"),
        (corrupt(T + "scale_us_per_unit", torch.tensor(float("nan"), dtype=torch.float64)), T + "scale_us_per_unit: expected finite values"),
        (corrupt(T + "pending_examples", torch.tensor(-4)), T + "pending_examples: expected finite values in [0, 9007199254740992]"),
        (corrupt(T + "pending_examples", torch.tensor(2**62)), T + "pending_examples: expected finite values in [0, 9007199254740992]"),
        (corrupt(T + "examples_since_transfer", torch.tensor(10**18)), T + "examples_since_transfer: expected finite values in [0, 7999]"),
        (corrupt(T + "time_since_programming_s", torch.tensor(float("inf"), dtype=torch.float64)), T + "time_since_programming_s: expected finite"),
        (corrupt(T + "counters", torch.zeros(3, dtype=torch.float64)), T + "counters: expected a torch.float64 tensor of shape [13]"),
        (corrupt(T + "counters", lambda t: t - 1.0), T + "counters: expected finite values in [0.0"),
        (drop(T + "v_c"), "incomplete device state (missing ['v_c'])"),
        (drop(T + "_extra_state"), "incomplete device state (missing ['_extra_state'])"),
    ],
)
def test_a_corrupted_state_dict_is_refused_and_changes_nothing(change, message):
    model = mlp(presets.ambrogio2018())
    state = copy.deepcopy(mlp(presets.ambrogio2018(), seed=2).state_dict())
    change(state)
    before = snapshot(model)
    with pytest.raises(ValueError, match=re.escape(message)):
        model.load_state_dict(state)  # the layer refuses before copying: no transaction needed
    assert_unchanged(model, before)


@pytest.mark.parametrize("config", [presets.hardware_aware(), presets.ambrogio2018()], ids=["hardware_aware", "ambrogio2018"])
def test_a_deployed_model_resumes_at_its_time_after_programming(tmp_path, config):
    model = mlp(config).eval()  # a programmed model infers (it refuses training)
    analogtorch.program(model)
    analogtorch.set_time(model, 86400.0)
    analogtorch.save_checkpoint(model, tmp_path / "deployed.pt")
    x = torch.rand(16, 12, generator=torch.Generator().manual_seed(3))
    expected = [model(x) for _ in range(2)]  # fresh read noise each time, from the saved rng position

    resumed = mlp(config, seed=9).eval()  # never programmed
    analogtorch.load_checkpoint(resumed, tmp_path / "deployed.pt")
    assert float(resumed[0].deployed_tiles["weight"][0].time_s) == 86400.0
    assert all(torch.equal(resumed(x), y) for y in expected)
    analogtorch.set_time(resumed, 3.156e7)  # and it drifts on from there
    assert not torch.equal(resumed(x), expected[0])


D = "0.deployed_tiles.weight.0."  # the first layer's deployed tile


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("g_plus_us", lambda t: t + 100.0, D + "g_plus_us: expected finite values in [0.0, 25.0]"),
        ("nu_minus", lambda t: t[:1], D + "nu_minus: expected a torch.float32 tensor of shape [10, 12]"),
        ("time_s", lambda v: torch.tensor(-1.0, dtype=torch.float64), D + "time_s: expected finite values in [0.0, 3200000000.0]"),
        ("_extra_state", lambda v: {**v, "pcm": {**v["pcm"], "g_max_us": -1.0}}, "deployed pcm (g_max_us: expected"),
    ],
)
def test_a_corrupted_deployment_is_refused(field, value, message):
    model = mlp(presets.hardware_aware())
    analogtorch.program(model)
    state = copy.deepcopy(model.state_dict())
    state[D + field] = value(state[D + field])
    fresh = mlp(presets.hardware_aware(), seed=4)
    before = snapshot(fresh)
    with pytest.raises(ValueError, match=re.escape(message)):
        fresh.load_state_dict(state)
    assert_unchanged(fresh, before)
    assert not fresh[0].programmed


# ---------------------------------------------------------------------------------------------
# Every value hashed, work bounded before verification, refusals that change nothing
# ---------------------------------------------------------------------------------------------

import contextlib  # noqa: E402
import errno  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402
from pathlib import Path  # noqa: E402

from analogtorch import checkpoint  # noqa: E402


def files_in(directory):
    """Every file of a directory with its bytes: a refused call leaves this as it was."""
    return {p.name: p.read_bytes() for p in sorted(Path(directory).iterdir()) if p.is_file()}


@contextlib.contextmanager
def bounded(seconds=20, memory_bytes=2 << 30):
    """Fails a call that runs longer than ``seconds`` or allocates more than ``memory_bytes`` of
    address space beyond what the process holds now (a MemoryError or an allocator's RuntimeError)."""
    pages = int(Path("/proc/self/statm").read_text().split()[0])
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = pages * os.sysconf("SC_PAGE_SIZE") + memory_bytes
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)

    def timeout(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, timeout)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        signal.signal(signal.SIGALRM, previous)


class Counted(nn.Module):
    """A module whose extra state is any value (a counter, a dict of tensors)."""

    def __init__(self, state=None):
        super().__init__()
        self.linear = nn.Linear(3, 2)
        self.state = {"count": 0} if state is None else state

    def get_extra_state(self):
        return self.state

    def set_extra_state(self, state):
        self.state = state


def digital():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


def crafted(path, state_dict=None, extra=None, sign=True, **entries):
    """A file laid out as save_checkpoint lays it out, with any content, signed with the digest
    of this version (unless ``sign`` is False) so that only the structure checks can refuse it."""
    payload = {
        "analogtorch_checkpoint": checkpoint._FORMAT,
        "analogtorch_version": analogtorch.__version__,
        "state_dict": digital().state_dict() if state_dict is None else state_dict,
        "extra": {} if extra is None else extra,
        **entries,
    }
    if sign and "sha256" not in entries:
        try:
            payload["sha256"] = checkpoint._digest(payload)
        except Exception:  # a value that the digest cannot take: any digest will do
            payload["sha256"] = "0" * 64
    payload.setdefault("sha256", "0" * 64)
    torch.save(payload, path)
    return path


def assert_refused_and_unchanged(tmp_path, path, message, model=None):
    model = digital() if model is None else model
    before, listing = snapshot(model), files_in(tmp_path)
    with bounded():
        with pytest.raises(ValueError, match=message) as info:
            analogtorch.load_checkpoint(model, path)
    assert repr(str(path)) in str(info.value)  # names the file
    assert_unchanged(model, before)
    assert files_in(tmp_path) == listing


def test_a_model_with_0_dim_tensors_round_trips(tmp_path):
    # BatchNorm's num_batches_tracked is a 0-dim int64 tensor.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    model.train()(torch.rand(8, 4))
    analogtorch.save_checkpoint(model, tmp_path / "bn.pt", extra={"step": torch.tensor(7), "lr": 0.1})
    fresh = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    extra = analogtorch.load_checkpoint(fresh, tmp_path / "bn.pt")
    assert_unchanged(fresh, model.state_dict())
    assert torch.equal(extra["step"], torch.tensor(7)) and extra["lr"] == 0.1


def test_a_self_doubling_nested_list_is_refused_quickly(tmp_path):
    nested = [0]
    for _ in range(40):
        nested = [nested, nested]  # 2^40 leaves in a file of 1.6 KB
    path = crafted(tmp_path / "nested.pt", state_dict={**digital().state_dict(), "x": nested}, sign=False)
    assert path.stat().st_size < 4096
    assert_refused_and_unchanged(tmp_path, path, "malformed: .*nested more than")


def test_a_shallow_but_shared_structure_is_refused_by_its_cost(tmp_path):
    nested = [0]
    for _ in range(24):
        nested = [nested, nested]  # 16 million visits, within the depth limit
    path = crafted(tmp_path / "shared.pt", state_dict={**digital().state_dict(), "x": nested}, sign=False)
    assert_refused_and_unchanged(tmp_path, path, "malformed: .*shared references repeated")


def test_a_stride_0_tensor_is_refused_before_it_is_expanded(tmp_path):
    huge = torch.zeros(1).expand(2**33)  # 34 GB when made contiguous
    path = crafted(tmp_path / "expand.pt", state_dict={**digital().state_dict(), "x": huge}, sign=False)
    assert_refused_and_unchanged(tmp_path, path, r"malformed: .*\['x'\]: a tensor of shape \[8589934592\]")


def test_a_text_file_is_refused_naming_it(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("hello world\n" * 10)
    assert_refused_and_unchanged(tmp_path, path, "unreadable")


def test_a_non_str_state_dict_key_is_refused(tmp_path):
    path = crafted(tmp_path / "keys.pt", state_dict={0: torch.zeros(2)}, sign=False)
    assert_refused_and_unchanged(tmp_path, path, r"malformed: \['state_dict'\]: a key of type int")


def test_a_huge_counter_is_refused(tmp_path):
    state = Counted().state_dict()
    state["_extra_state"] = {"count": 2**80}
    path = crafted(tmp_path / "counter.pt", state_dict=state)
    assert_refused_and_unchanged(tmp_path, path, "malformed: .*'count'\\]: an int of 81 bits", model=Counted())


class Strict(Counted):
    def set_extra_state(self, state):
        self.state = {"count": int(state["count"])}  # a KeyError or TypeError for an unexpected state


@pytest.mark.parametrize("state", [{}, {"count": [1]}], ids=["missing_key", "wrong_type"])
def test_a_state_that_trips_a_modules_loader_is_a_value_error_naming_the_file(tmp_path, state):
    saved = Counted(state)
    analogtorch.save_checkpoint(saved, tmp_path / "odd.pt")
    model = Strict({"count": 3})
    before = snapshot(model)
    assert_refused_and_unchanged(tmp_path, tmp_path / "odd.pt", "refused by the model: (KeyError|TypeError)", model=model)
    assert model.state == {"count": 3} and before["_extra_state"] == {"count": 3}


@pytest.mark.parametrize(
    "entries, message",
    [
        ({"state_dict": [1, 2]}, "expected dicts state_dict and extra"),
        ({"extra": "optimizer"}, "expected dicts state_dict and extra"),
        ({"sha256": 5}, "a str sha256"),
        ({"analogtorch_checkpoint": True}, "not an analogtorch checkpoint of format"),
        ({"analogtorch_checkpoint": torch.tensor([2, 2])}, "not an analogtorch checkpoint of format"),
        ({"unexpected": 1}, "expected the entries"),
        ({"extra": {"x": {1, 2}}}, "a value of type set"),
        ({"extra": {(1, 2): 3}}, "a key of type tuple"),
    ],
    ids=["state_dict_list", "extra_str", "sha_int", "format_bool", "format_tensor", "extra_entry", "set", "tuple_key"],
)
def test_wrong_types_are_refused_naming_the_file(tmp_path, entries, message):
    path = crafted(tmp_path / "types.pt", **entries)
    assert_refused_and_unchanged(tmp_path, path, message)


def resave(path, change):
    """Loads a checkpoint's payload, changes it and writes it back with its old digest."""
    payload = torch.load(path, weights_only=True)
    change(payload)
    torch.save(payload, path)


def test_the_digest_covers_extra(tmp_path):
    model = digital()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.rand(8, 4)).sum().backward()
    optimizer.step()
    path = tmp_path / "run.pt"
    analogtorch.save_checkpoint(model, path, extra={"optimizer": optimizer.state_dict(), "epoch": 3})
    resave(path, lambda p: p["extra"].update(epoch=4))
    assert_refused_and_unchanged(tmp_path, path, "do not match their SHA-256 digest")

    analogtorch.save_checkpoint(model, path, extra={"optimizer": optimizer.state_dict()})
    resave(path, lambda p: p["extra"]["optimizer"]["state"][0]["momentum_buffer"].add_(1e-6))
    assert_refused_and_unchanged(tmp_path, path, "do not match their SHA-256 digest")


@pytest.mark.parametrize(
    "change",
    [
        lambda state: state["values"].view(-1)[1000].add_(1e-5),  # repr() summarises 2000 elements
        lambda state: state["values"].view(-1)[0].add_(1e-6),  # and prints 4 digits
        lambda state: state.update(gain=state["gain"] + 1e-12),
        lambda state: state.update(flag=1),  # equal to True, another type
    ],
    ids=["summarised", "digits", "float", "bool_to_int"],
)
def test_the_digest_covers_every_byte_of_extra_state(tmp_path, change):
    model = Counted({"values": torch.linspace(0, 1, 2000), "gain": 0.1, "flag": True})
    path = tmp_path / "state.pt"
    analogtorch.save_checkpoint(model, path)
    resave(path, lambda p: change(p["state_dict"]["_extra_state"]))
    assert_refused_and_unchanged(tmp_path, path, "do not match their SHA-256 digest", model=Counted())


def test_a_checkpoint_of_format_1_is_refused(tmp_path):
    path = crafted(tmp_path / "old.pt", analogtorch_checkpoint=1)
    assert checkpoint._FORMAT == 2
    assert_refused_and_unchanged(tmp_path, path, "not an analogtorch checkpoint of format 2")


def test_save_refuses_what_a_checkpoint_cannot_store_and_writes_nothing(tmp_path):
    model = digital()
    analogtorch.save_checkpoint(model, tmp_path / "model.pt")
    listing = files_in(tmp_path)
    for extra, message in [
        ({"x": object()}, "extra: extra holds what a checkpoint cannot store: .*a value of type object"),
        ({"x": 2**70}, "an int of 71 bits"),
        ([1], "extra: expected a dict or None, got list"),
        ({(1, 2): 3}, "a key of type tuple"),
    ]:
        with pytest.raises(TypeError, match=message):
            analogtorch.save_checkpoint(model, tmp_path / "model.pt", extra=extra)
        assert files_in(tmp_path) == listing


def fill_the_disk(monkeypatch):
    """Every file save_checkpoint opens writes to /dev/full: each write fails with ENOSPC."""
    real_open = open

    def full_open(file, mode="r", *args, **kwargs):
        if "b" in mode and ("w" in mode or "x" in mode) and Path(file).name.endswith(".tmp"):
            real_open(file, mode).close()  # the temporary file exists, as on a real disk
            return real_open("/dev/full", "wb")
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", full_open)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_says_so_and_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    model = digital()
    path = tmp_path / "model.pt"
    analogtorch.save_checkpoint(model, path)
    listing = files_in(tmp_path)
    fill_the_disk(monkeypatch)
    with pytest.raises(OSError, match="no space left on device .*model.pt") as info:
        analogtorch.save_checkpoint(nn.Sequential(nn.Linear(200, 200)), path)
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert files_in(tmp_path) == listing  # the old checkpoint, and no temporary file


def test_a_killed_save_leaves_a_temporary_file_that_the_next_save_removes(tmp_path):
    path = tmp_path / "model.pt"
    script = textwrap.dedent(
        f"""
        import os, signal, torch
        from torch import nn
        import analogtorch

        def save_then_die(obj, file):
            file.write(b"half a checkpoint")
            file.flush()
            os.kill(os.getpid(), signal.SIGKILL)

        torch.save = save_then_die
        analogtorch.save_checkpoint(nn.Linear(2, 2), {str(path)!r})
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2], timeout=120)
    assert result.returncode == -signal.SIGKILL
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".model.pt.") and left[0].endswith(".tmp")
    others = [".other.pt.1.abcd.tmp", f".model.pt.99999999.{os.getpid()}.0123abcd.tmp"]  # other targets' files
    for name in others:
        (tmp_path / name).write_bytes(b"x")

    analogtorch.save_checkpoint(digital(), path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*others, "model.pt"])
    analogtorch.load_checkpoint(digital(), path)


def test_a_concurrent_save_keeps_its_temporary_file(tmp_path):
    # A temporary file whose writer still runs (this process, under another pid's name: the parent).
    live = tmp_path / f".model.pt.{os.getppid()}.abcd.tmp"
    live.write_bytes(b"in progress")
    analogtorch.save_checkpoint(digital(), tmp_path / "model.pt")
    assert live.exists()


def test_the_directory_is_fsynced_after_the_rename(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append(os.path.isdir(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    analogtorch.save_checkpoint(digital(), tmp_path / "model.pt")
    assert synced[-1] is True  # the last fsync is the directory's, after the rename
    assert synced.count(False) >= 1  # and the file's before it


# ---------------------------------------------------------------------------------------------
# Fuzz: crafted files are refused naming the file, within time and memory, changing nothing
# ---------------------------------------------------------------------------------------------

import tempfile  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _self_doubling(depth):
    nested = [0]
    for _ in range(depth):
        nested = [nested, nested]
    return nested


def _chain(depth):
    nested = []
    for _ in range(depth):
        nested = [nested]
    return nested


_tensors = st.one_of(
    st.builds(lambda n: torch.arange(n, dtype=torch.float32), st.integers(0, 20)),
    st.sampled_from([torch.tensor(3), torch.tensor(True), torch.zeros(2, 0), torch.ones(3, dtype=torch.float64)]),
    st.builds(lambda bits: torch.zeros(1).expand(2**bits), st.integers(10, 40)),  # stride 0, any size
    st.builds(lambda n: torch.zeros(4)[::2].expand(n, 2), st.integers(1, 2**30)),  # a view wider than its storage
)
_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.sampled_from([2**100, -(2**200), 10**1000]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.binary(max_size=8),
    _tensors,
    st.sampled_from([torch.float32, torch.device("cpu"), torch.Size([2, 3])]),
)
_keys = st.one_of(st.text(max_size=6), st.integers(-3, 3), st.sampled_from([None, 1.5, True, (1, 2)]))
_values = st.recursive(
    _leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(_keys, children, max_size=4),
    ),
    max_leaves=20,
)
_bombs = st.one_of(
    st.builds(_self_doubling, st.integers(10, 60)),
    st.builds(_chain, st.integers(20, 300)),
)


@st.composite
def _payloads(draw):
    base = nn.Sequential(nn.Linear(2, 2)).state_dict()
    state_dict = draw(st.one_of(st.just(dict(base)), st.dictionaries(_keys, _values, max_size=4), _values))
    if isinstance(state_dict, dict) and draw(st.booleans()):
        state_dict[draw(_keys)] = draw(st.one_of(_values, _bombs))
    payload = {
        "analogtorch_checkpoint": draw(st.sampled_from([checkpoint._FORMAT] * 6 + [1, True, "2", 2.0])),
        "analogtorch_version": draw(st.one_of(st.just(analogtorch.__version__), _values)),
        "state_dict": state_dict,
        "extra": draw(st.one_of(st.dictionaries(_keys, st.one_of(_values, _bombs), max_size=3), _values)),
    }
    for _ in range(draw(st.integers(0, 2))):  # an entry missing, or one more
        if draw(st.booleans()) and payload:
            payload.pop(draw(st.sampled_from(list(payload))))
        else:
            payload[draw(_keys)] = draw(_values)
    sign = draw(st.sampled_from(["digest", "digest", "zeros", "other"]))
    if sign == "digest":
        try:  # bounded first: a bomb's digest would never finish
            checkpoint._check(payload, (), 0, checkpoint._Bounds(1 << 16))
            payload["sha256"] = checkpoint._digest(payload)
        except Exception:  # a value the digest cannot take
            payload["sha256"] = "0" * 64
    elif sign == "zeros":
        payload["sha256"] = "0" * 64
    else:
        payload["sha256"] = draw(_values)
    return payload


@settings(deadline=5000, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_payloads())
def test_crafted_checkpoints_are_refused_by_name_within_bounds(payload):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "crafted.pt"
        try:
            torch.save(payload, path)
        except (RecursionError, pickle_errors()):
            return  # torch.save cannot write it: no file to load
        model = nn.Sequential(nn.Linear(2, 2))
        before, listing = snapshot(model), files_in(directory)
        try:
            with bounded(seconds=10, memory_bytes=1 << 30):
                extra = analogtorch.load_checkpoint(model, path)
        except ValueError as error:
            assert repr(str(path)) in str(error), error
            assert_unchanged(model, before)
        except RuntimeError as error:  # the model's own refusal of a well-formed, signed state
            assert "Error(s) in loading state_dict" in str(error), error
            assert_unchanged(model, before)
        else:
            assert isinstance(extra, dict) and payload.get("analogtorch_checkpoint") == checkpoint._FORMAT
        assert files_in(directory) == listing


def pickle_errors():
    import pickle

    return (pickle.PicklingError, TypeError, AttributeError)


def test_a_valid_checkpoint_loads_within_the_same_bounds(tmp_path):
    # The bounds refuse crafted files, not real ones: tied weights and an optimizer's state fit.
    model = nn.Sequential(nn.Embedding(50, 8), nn.Linear(8, 50))
    model[1].weight = model[0].weight  # tied: two keys, one storage
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.tensor([1, 2, 3])).sum().backward()
    optimizer.step()
    analogtorch.save_checkpoint(model, tmp_path / "tied.pt", extra={"optimizer": optimizer.state_dict()})
    fresh = nn.Sequential(nn.Embedding(50, 8), nn.Linear(8, 50))
    fresh[1].weight = fresh[0].weight
    with bounded(seconds=20, memory_bytes=1 << 30):
        extra = analogtorch.load_checkpoint(fresh, tmp_path / "tied.pt")
    assert_unchanged(fresh, model.state_dict())
    assert extra["optimizer"]["state"].keys() == optimizer.state_dict()["state"].keys()
