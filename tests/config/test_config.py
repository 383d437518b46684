import re
from pathlib import Path

import pytest

from placement_search.config import load_config
from placement_search.errors import PlacementSearchError

PRESETS = sorted(Path(__file__).resolve().parents[2].joinpath("search_spaces").glob("*.yaml"))


@pytest.mark.parametrize("path", PRESETS, ids=[p.stem for p in PRESETS])
def test_presets_load(path):
    cfg = load_config(path)
    assert cfg.name == path.stem


def write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("training:\n  epoch: 3\n", "unknown config key training.epoch; did you mean training.epochs? allowed keys: epochs"),
        ("adapter:\n  activation: tanh\n", "config key adapter.activation is 'tanh'; allowed values: identity, gelu, relu"),
        ("space:\n  edge_types: [parallel, diagonal]\n", "unknown edge type 'diagonal'"),
        ("training:\n  lr: fast\n", "training.lr must be a number"),
        ("space:\n  k: 0\n", "space.k must be positive"),
        ("adapter:\n  rank: half\n", "adapter.rank is 'half'"),
        ("backbone: minilm\n", "config section backbone must be a mapping"),
        ("training: [1, 2\n", "not valid YAML at line"),
        ("- a\n- b\n", "must hold a mapping"),
    ],
)
def test_config_errors_name_the_key(tmp_path, text, fragment):
    with pytest.raises(PlacementSearchError, match=re.escape(fragment)):
        load_config(write(tmp_path, text))


def test_overrides(tmp_path):
    cfg = load_config(write(tmp_path, "training:\n  epochs: 3\n"), ["training.epochs=1", "space.edge_types=[parallel]"])
    assert cfg.training.epochs == 1.0 and cfg.space.edge_types == ["parallel"]
    with pytest.raises(PlacementSearchError, match="override 'epochs' is malformed"):
        load_config(write(tmp_path, ""), ["epochs"])


def test_missing_file():
    with pytest.raises(PlacementSearchError, match="does not exist"):
        load_config("nope.yaml")
