"""``placement-search predict``: raw texts and image files through the CLI, table and JSON."""

from __future__ import annotations

import json

import torch

from placement_search.cli import main
from placement_search.export.commands import prediction_table

TEXTS = ["pizza and pasta with cheese for dinner", "the band played a loud song", "when"]


def _top(probs: torch.Tensor, names: list[str], k: int) -> list[list[tuple[str, float]]]:
    values, indices = probs.topk(k, dim=-1)
    return [[(str(names[int(i)]), float(p)) for p, i in zip(vs, ix)] for vs, ix in zip(values, indices)]


def test_predict_prints_the_trained_models_labels_for_texts(exports, capsys):
    from placement_search.data.prepare import tokenize

    exported = exports("text")
    inputs = tokenize(exported.model.backbone.input_spec()["tokenizer"], TEXTS, None, exported.cfg.task.max_length)
    with torch.no_grad():
        probs = exported.model(inputs).softmax(-1)
    capsys.readouterr()
    assert main(["predict", str(exported.folder), *TEXTS, "--top-k", "2"]) == 0
    out = capsys.readouterr().out
    assert out == prediction_table(TEXTS, _top(probs, exported.task.class_names, 2)) + "\n"
    lines = out.splitlines()
    assert lines[0].split() == ["input", "label", "probability"] and len(lines) == 1 + 2 * len(TEXTS)
    assert lines[1].startswith(TEXTS[0]) and lines[2].startswith(" ")  # the input once, on its first row


def test_predict_json_for_image_files(exports, capsys):
    exported = exports("image")
    files = [str(exported.files[i]) for i in range(3)]
    inputs, _ = exported.task.test.take(torch.arange(3))
    with torch.no_grad():
        probs = exported.model(inputs).softmax(-1)
    capsys.readouterr()
    assert main(["predict", str(exported.folder), *files, "--json", "--top-k", "9"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["input"] for r in rows] == files
    names = [str(n) for n in exported.task.class_names]
    for row, expected in zip(rows, _top(probs, names, len(names))):  # --top-k above the classes: all of them
        got = [(p["label"], p["probability"]) for p in row["predictions"]]
        assert [label for label, _ in got] == [label for label, _ in expected]
        assert all(abs(a - b) < 1e-6 for (_, a), (_, b) in zip(got, expected))
        assert abs(sum(p for _, p in got) - 1) < 1e-5


def test_predict_refuses_a_text_pair_model(exports, tmp_path, capsys):
    import shutil

    folder = shutil.copytree(exports("text").folder, tmp_path / "pairs")
    config = json.loads((folder / "config.json").read_text())
    config["preprocessing"]["text_pair"] = True
    (folder / "config.json").write_text(json.dumps(config))
    capsys.readouterr()
    assert main(["predict", str(folder), "a premise"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "classifies text pairs and predict takes single texts" in err
