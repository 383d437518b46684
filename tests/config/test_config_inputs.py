"""Strict config input: unknown names with the nearest valid one, YAML 1.2 numbers, seeds, overrides."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from placement_search.config import TOP_LEVEL, Config, apply_override, config_from_dict, load_config
from placement_search.errors import PlacementSearchError

TINY = Path(__file__).resolve().parents[2] / "search_spaces" / "tiny.yaml"


def write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def refused(fragment):
    return pytest.raises(PlacementSearchError, match=re.escape(fragment))


# ------------------------------------------------------------------ unknown sections and keys


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("trainig:\n  epochs: 1\n", "unknown config section 'trainig'; did you mean 'training'? sections: name, backbone"),
        ("backbones:\n  name: tiny-bert\n", "unknown config section 'backbones'; did you mean 'backbone'?"),
        ("resources:\n  cpus: 2\n", "unknown config section 'resources'; sections: name, backbone, task"),
        ("nme: x\n", "unknown config section 'nme'; did you mean 'name'?"),
        ("task:\n  nmae: trec6\n", "unknown config key task.nmae; did you mean task.name? allowed keys: name,"),
        ("search:\n  max_concurrency: 2\n", "unknown config key search.max_concurrency; did you mean search.max_concurrent?"),
        ("training:\n  zzz: 1\n", "unknown config key training.zzz; allowed keys: epochs"),
    ],
)
def test_unknown_names_suggest_the_nearest(tmp_path, text, fragment):
    with refused(fragment):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("trainig.epochs=1", "unknown config section 'trainig' in --set trainig.epochs=1; did you mean 'training'?"),
        ("training.epoch=1", "unknown config key training.epoch in --set training.epoch=1; did you mean training.epochs?"),
        ("training.lr=[1", "override 'training.lr=[1' has a value that is not valid YAML"),
        ("training.lr={a: 1, a: 2}", "override 'training.lr={a: 1, a: 2}': key 'a' appears twice"),
        ("name.x=1", "override 'name.x=1': name has no keys; write name=VALUE"),
        ("epochs", "override 'epochs' is malformed; write section.key=value"),
    ],
)
def test_bad_overrides(override, fragment):
    with refused(fragment):
        load_config(TINY, [override])


def test_override_sets_the_name_and_creates_missing_sections(tmp_path):
    cfg = load_config(write(tmp_path, "name: a\n"), ["name=b", "scoring.rtol=1e-4"])
    assert cfg.name == "b" and cfg.scoring.rtol == 1e-4


def test_no_extra_section_survives():
    """Everything a config holds is a known section: to_dict round-trips with nothing else."""
    assert "extra" not in {f.name for f in dataclasses.fields(Config)}
    cfg = load_config(TINY)
    assert set(cfg.to_dict()) == set(TOP_LEVEL)
    assert config_from_dict(cfg.to_dict()) == cfg


def test_duplicate_key_in_the_file(tmp_path):
    with refused("config file") as err:
        load_config(write(tmp_path, "training:\n  epochs: 1\nspace:\n  k: 1\ntraining:\n  lr: 0.1\n"))
    assert "key 'training' appears twice (lines 1 and 5); keep one of them" in str(err.value)


# ------------------------------------------------------------------------------------ numbers


@pytest.mark.parametrize(
    "text, key, value",
    [
        ("training:\n  lr: 1e-3\n", "lr", 1e-3),
        ("training:\n  lr: 5E-2\n", "lr", 5e-2),
        ("training:\n  lr: 1.5e-3\n", "lr", 1.5e-3),  # YAML 1.1 wants a sign after e; 1.2 does not
        ("training:\n  lr: '1e-3'\n", "lr", 1e-3),  # quoted: still written as a number
        ("training:\n  epochs: 1e1\n", "epochs", 10.0),
        ("training:\n  weight_decay: +1e-2\n", "weight_decay", 1e-2),
        ("training:\n  head_lr: .5e-1\n", "head_lr", 0.05),
    ],
)
def test_scientific_notation_is_a_float(tmp_path, text, key, value):
    cfg = load_config(write(tmp_path, text))
    assert getattr(cfg.training, key) == pytest.approx(value) and isinstance(getattr(cfg.training, key), float)


def test_scientific_notation_in_overrides_lists_and_python():
    cfg = load_config(TINY, ["training.lr=1e-3", "scoring.rtol=1e-5", "search.gga_gammas=[6e-1, 3e-1]"])
    assert (cfg.training.lr, cfg.scoring.rtol, cfg.search.gga_gammas) == (1e-3, 1e-5, [0.6, 0.3])
    assert config_from_dict({"training": {"lr": "2e-4"}}).training.lr == 2e-4


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("training.batch_size=1e3", "training.batch_size must be an integer, got 1000.0"),  # ints stay strict
        ("training.lr=fast", "training.lr must be a number (e.g. 0.001 or 1e-3), got 'fast'"),
        ("training.lr=.nan", "training.lr must be a finite number, got nan"),
        ("training.epochs=.inf", "training.epochs must be a finite number, got inf"),
        ("search.gga_gammas=[0.6, .inf]", "search.gga_gammas must hold finite numbers"),
        ("task.name=1e3", "task.name must be a string, got 1000.0"),
        ("training.seed=-1", "training.seed must be a seed from 0 to 4294967295, got -1"),
        ("task.split_seed=4294967296", "task.split_seed must be a seed from 0 to 4294967295"),
        ("search.seeds=[0, -2]", "search.seeds holds -2; seeds run from 0 to 4294967295"),
        ("search.seeds=[0.5]", "search.seeds must be a list of integers"),
        ("search.max_concurrent=-1", "search.max_concurrent must be positive, got -1"),
        ("search.asha_reduction_factor=1", "search.asha_reduction_factor must be at least 2, got 1"),
        ("search.backbone_map_weight=-1", "search.backbone_map_weight must be >= 0 (0 turns the backbone map off"),
        ("search.backbone_map_weight=strong", "search.backbone_map_weight must be a number"),
        ("search.source_map_var=-2", "search.source_map_var must be >= 0 (0 turns the source-map slopes off"),
        ("search.source_map_var=wide", "search.source_map_var must be a number"),
    ],
)
def test_bad_numbers(override, fragment):
    with refused(fragment):
        load_config(TINY, [override])


def test_apply_override_on_a_stored_config_dict():
    """benchmarks/search_efficiency.py applies overrides to a stored config's dict."""
    raw = load_config(TINY).to_dict()
    apply_override(raw, "scoring.pooling=mean")
    assert config_from_dict(raw).scoring.pooling == "mean"
    with refused("unknown config key scoring.pooling_ in --set scoring.pooling_=mean; did you mean scoring.pooling?"):
        apply_override(raw, "scoring.pooling_=mean")


def test_unreadable_config_is_one_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with refused(f"config file {path} cannot be read (UnicodeDecodeError); check the file"):
        load_config(path)
