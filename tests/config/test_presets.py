"""Presets ship with the package and a CONFIG argument takes their names (``placement-search run
minilm_trec6``). search_spaces/ is the one source: placement_search/presets links to it, and the
wheel's package data holds the files themselves."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from placement_search.cli import main
from placement_search.config import PRESETS_DIR, config_file, load_config, preset_names
from placement_search.errors import PlacementSearchError

ROOT = Path(__file__).resolve().parents[2]


def test_every_preset_loads_by_name_and_is_the_search_spaces_file():
    assert PRESETS_DIR.resolve() == (ROOT / "search_spaces").resolve()
    names = preset_names()
    assert {"minilm_trec6", "dinov2s_fashion", "tiny"} <= set(names)
    assert names == sorted(p.stem for p in (ROOT / "search_spaces").glob("*.yaml"))
    for name in names:
        assert load_config(name) == load_config(ROOT / "search_spaces" / f"{name}.yaml")
        assert config_file(f"{name}.yaml").resolve() == (ROOT / "search_spaces" / f"{name}.yaml").resolve()


def test_a_file_wins_over_a_preset_of_the_same_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.yaml").write_text("name: mine\nbackbone:\n  name: tiny-bert\ntask:\n  name: tiny-text\n")
    assert load_config("tiny.yaml").name == "mine"
    assert load_config("tiny").name == "tiny"


@pytest.mark.parametrize("given, hint", [("minilm_trec", "did you mean 'minilm_trec6'?"), ("nothing-like-it", ""),
                                         ("elsewhere/tiny.yaml", "did you mean 'tiny'?")])
def test_an_unknown_name_is_one_line_listing_the_presets(given, hint, capsys):
    with pytest.raises(PlacementSearchError, match="does not exist and is not a preset") as err:
        config_file(given)
    assert hint in str(err.value) and "presets: " + ", ".join(preset_names()) in str(err.value)
    assert main(["space", given]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "minilm_trec6" in err


def test_presets_command_lists_every_preset(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == preset_names()
    assert any(line.startswith("minilm_trec6") and "minilm-l6 x trec6" in line for line in out)


def test_the_wheel_takes_the_presets_as_package_data():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "presets/*.yaml" in data["placement_search"]
