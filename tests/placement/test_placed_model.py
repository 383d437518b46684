"""The placed model against the backbone (identity at init) and an independent reference of §4."""

import pytest
import torch
from conftest import make_inputs

from placement_search.config import AdapterConfig
from placement_search.placement.edges import EdgeSpace, Placement
from placement_search.placement.placed_model import PlacedModel

ONE_OF_EACH = ["3->3", "2->3", "0->4", "4->1"]


def reference_logits(model: PlacedModel, inputs):
    """DESIGN.md §4 written the slow, literal way: every pass runs all points from 0 to n-1,
    pass 2 re-runs the whole network, recurrent edges read the complete pass-1 stream."""
    bb = model.backbone
    edges = [(e.source, e.destination, model.adapters[f"{e.source}->{e.destination}"]) for e in model.placement]
    x0, ctx = bb.embed(inputs)

    def run(pass1):
        adapted = {}
        for j in range(bb.num_points):
            raw = x0 if j == 0 else bb.sublayer(j, adapted[j - 1], ctx)
            total = raw
            for i, jj, adapter in edges:
                if jj != j:
                    continue
                if i < j:
                    total = total + adapter(adapted[i])
                elif i == j:
                    total = total + adapter(raw)
                elif pass1 is not None:
                    total = total + adapter(pass1[i])
            adapted[j] = total
        return adapted

    stream = run(None)
    if any(i > j for i, j, _ in edges):
        stream = run(stream)
    return model.head(bb.pool(stream[bb.num_points - 1], ctx))


def perturb(model: PlacedModel, seed: int = 0) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.adapters.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.2)


@pytest.mark.parametrize("edge", ONE_OF_EACH)
def test_fresh_placement_equals_backbone_exactly(tiny_backbone, edge):
    inputs = make_inputs(tiny_backbone)
    model = PlacedModel(tiny_backbone, Placement.parse(edge), num_classes=3)
    with torch.no_grad():
        assert torch.equal(model.features(inputs), tiny_backbone(inputs))


def test_fresh_placement_of_every_edge_type_at_once_equals_backbone(tiny_backbone):
    inputs = make_inputs(tiny_backbone)
    n = tiny_backbone.num_points
    edges = f"0->0,1->2,0->{n - 1},{n - 1}->0,{n - 2}->1,3->3"
    model = PlacedModel(tiny_backbone, Placement.parse(edges), num_classes=3, adapter=AdapterConfig(activation="gelu"))
    with torch.no_grad():
        assert torch.equal(model.features(inputs), tiny_backbone(inputs))


@pytest.mark.parametrize(
    "placement",
    [
        "1->3",                      # one forward long-range edge
        "2->2,4->4",                 # self-loops
        "0->1,1->2,2->2,0->4",       # chained forward edges, a self-loop between them
        "4->1",                      # one recurrent edge
        "4->1,3->0,2->2,1->3",       # several recurrent edges with forward edges and a self-loop
        "4->4,4->0,0->0,1->4",       # recurrent from the last point into the embeddings, self-loops at both ends
    ],
)
@pytest.mark.parametrize("activation", ["identity", "gelu"])
def test_perturbed_placement_matches_reference(tiny_backbone64, placement, activation):
    inputs = make_inputs(tiny_backbone64)
    model = PlacedModel(tiny_backbone64, Placement.parse(placement), 3, AdapterConfig(rank=3, activation=activation, scale=0.7))
    perturb(model)
    with torch.no_grad():
        ours, ref = model(inputs), reference_logits(model, inputs)
        base = model.head(tiny_backbone64(inputs))
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    assert not torch.allclose(ours, base)  # the adapters really changed the output


def test_gradients_flow_to_every_adapter_through_both_passes(tiny_backbone64):
    inputs = make_inputs(tiny_backbone64)
    model = PlacedModel(tiny_backbone64, Placement.parse("0->1,4->1,3->3"), 3, AdapterConfig(rank=2))
    perturb(model)
    model(inputs).sum().backward()
    for name, p in model.adapters.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert all(p.grad is None for p in model.backbone.parameters())


def test_pass2_only_gradient_differs_from_full(tiny_backbone64):
    inputs = make_inputs(tiny_backbone64)
    grads = {}
    for mode in ("both", "pass2"):
        model = PlacedModel(tiny_backbone64, Placement.parse("0->1,4->2"), 3, AdapterConfig(rank=2), recurrent_grad=mode)
        perturb(model)
        model(inputs).sum().backward()
        grads[mode] = model.adapters["0->1"].down.weight.grad.clone()
    assert not torch.allclose(grads["both"], grads["pass2"])


def test_empty_placement_is_the_linear_probe(tiny_backbone):
    model = PlacedModel(tiny_backbone, Placement(), num_classes=4)
    trainable = model.trainable_parameters()
    assert sum(p.numel() for p in trainable) == tiny_backbone.hidden_size * 4 + 4


def test_full_rank_adapter_parameter_count(tiny_backbone):
    d = tiny_backbone.hidden_size
    model = PlacedModel(tiny_backbone, Placement.parse("1->2"), 2, AdapterConfig(rank="full"))
    assert sum(p.numel() for p in model.adapters.parameters()) == d * d + d
    model = PlacedModel(tiny_backbone, Placement.parse("1->2"), 2, AdapterConfig(rank=4))
    assert sum(p.numel() for p in model.adapters.parameters()) == 2 * d * 4 + 4 + d


def test_space_of_tiny_backbones(tiny_backbone):
    assert len(EdgeSpace(tiny_backbone.num_points)) == tiny_backbone.num_points ** 2
