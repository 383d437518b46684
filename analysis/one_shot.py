"""Does a one-shot "supernet" rank the single edges? Every edge trained at once, then each one read off.

Weight-sharing NAS trains one model that holds every candidate and ranks the candidates inside
it. Here the candidates are additive adapters, so the supernet is simply the placement of all n²
edges (two passes, DESIGN.md §4), trained with the preset recipe for ``--epochs`` (one epoch
costs about one single-edge trial on MiniLM). Each edge is then scored five ways:

- ``drop_accuracy`` / ``drop_loss``: what the validation accuracy loses / the validation loss
  gains when that edge's adapter is switched off (its output zeroed in both passes);
- ``output_norm``: the mean norm of the adapter's output per token on the validation set, and
  ``relative_norm``: that over the mean norm of what it reads;
- ``weight_norm``: the Frobenius norm of its trained map, W_up W_down.

The Spearman of each with the ground truth (bootstrap 95 % interval) says whether an edge's share
of the jointly trained model tells how it does alone. Measured on TREC-6, the development map of
``analysis/results/probe_head/PLAN.md``, and not pursued (README, "The same spectra through the
trained linear-probe head").

    .venv/bin/python analysis/one_shot.py --epochs 1     # TREC-6: 40 s of training, 6 min of switching edges off

Output: analysis/results/one_shot/<store>_e<epochs>.csv (one row per edge) and the Spearman table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "analysis"))

import searcher_selection as ss  # noqa: E402

OUT = ROOT / "analysis/results/one_shot"
SIGNALS = ("drop_accuracy", "drop_loss", "output_norm", "relative_norm", "weight_norm")


def supernet_signals(cfg, backbone, task) -> pd.DataFrame:
    """Train the placement of every edge with ``cfg``'s recipe; one row of SIGNALS per edge."""
    from placement_search.experiment import edge_space
    from placement_search.placement.edges import Placement
    from placement_search.training import evaluate, resolve_device, train_placement

    device = resolve_device(cfg.training.device)
    _, model = train_placement(cfg, Placement.of(edge_space(cfg).edges), backbone, task)
    bs, val = cfg.training.eval_batch_size, task.validation
    norms: dict[str, list[tuple[float, float]]] = {k: [] for k in model.adapters}

    def record(key):
        def hook(_module, inputs, output):
            norms[key].append((output.detach().norm(dim=-1).mean().item(), inputs[0].detach().norm(dim=-1).mean().item()))
        return hook

    hooks = [a.register_forward_hook(record(k)) for k, a in model.adapters.items()]
    base_acc, base_loss = evaluate(model, val, bs, device, trim=cfg.training.trim_padding)
    for h in hooks:
        h.remove()
    rows = []
    for key, adapter in model.adapters.items():
        off = adapter.register_forward_hook(lambda _m, _i, output: torch.zeros_like(output))
        acc, loss = evaluate(model, val, bs, device, trim=cfg.training.trim_padding)
        off.remove()
        out, inp = np.mean(norms[key], axis=0)
        with torch.no_grad():
            weight = adapter.up.weight @ adapter.down.weight if isinstance(adapter.down, torch.nn.Linear) else adapter.up.weight
        rows.append({"placement": key, "drop_accuracy": base_acc - acc, "drop_loss": loss - base_loss,
                     "output_norm": out, "relative_norm": out / inp, "weight_norm": weight.norm().item()})
    frame = pd.DataFrame(rows)
    frame.attrs["supernet_val_accuracy"] = base_acc
    return frame


def spearman_table(frame: pd.DataFrame, accuracy: dict, seed: int = 0) -> pd.DataFrame:
    """Spearman [95 % CI] of each signal with the map's accuracy."""
    from placement_search.placement.edges import Edge

    acc = np.array([accuracy[Edge.parse(p)] for p in frame["placement"]])
    rows = []
    for col in SIGNALS:
        rho, lo, hi = ss.bootstrap_spearman(frame[col].to_numpy(float), acc, np.random.default_rng(seed))
        rows.append({"signal": col, "spearman": rho, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    from placement_search.experiment import load_experiment
    from placement_search.placement.edges import Edge

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", default="minilm_trec6", help="a complete ground truth in analysis/results/ (file stem)")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        gt = ss.load_ground_truth(ROOT / "analysis/results" / f"{args.store}.sqlite", Path(tmp))
    cfg = gt.cfg
    cfg.training.epochs = args.epochs
    backbone, task = load_experiment(cfg)
    frame = supernet_signals(cfg, backbone, task)
    frame["val_accuracy_mean"] = [gt.accuracy[Edge.parse(p)] for p in frame["placement"]]
    args.out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out / f"{args.store}_e{args.epochs:g}.csv", index=False, float_format="%.6g")
    print(f"supernet ({len(frame)} edges, {args.epochs:g} epochs): validation accuracy "
          f"{frame.attrs['supernet_val_accuracy']:.3f}")
    print(spearman_table(frame, gt.accuracy).round(2).to_string(index=False))


if __name__ == "__main__":
    main()
