"""Plain-text tables of trials for the terminal (``show``, the end of ``run``)."""

from __future__ import annotations

import pandas as pd

COLUMNS = {"placement": "placement", "k": "K", "seed": "seed", "status": "status", "val_accuracy": "val acc",
           "test_accuracy": "test acc", "num_adapter_params": "adapter params", "inference_cost": "inference x",
           "wall_time_s": "time (s)", "train_tflops": "train TFLOPs"}


def trial_table(trials: pd.DataFrame, top: int = 15) -> str:
    """The ``top`` trials by validation accuracy, then a count of the rest and of failures."""
    if trials.empty:
        return "(no trials)"
    frame = trials.sort_values("val_accuracy", ascending=False, na_position="last")
    if "train_flops" in frame.columns:  # the price columns (placement/price.py); inference x = FLOPs over the probe's
        frame = frame.assign(train_tflops=frame["train_flops"] * 1e-12)
    shown = frame.head(top)[[c for c in COLUMNS if c in frame.columns]].rename(columns=COLUMNS)
    shown["placement"] = shown["placement"].replace("", "empty")
    text = shown.to_string(index=False, float_format=lambda v: f"{v:.4f}", na_rep="-")
    failed = int((trials["status"] == "failed").sum())
    tail = []
    if len(frame) > top:
        tail.append(f"... {len(frame) - top} more trials")
    if failed:
        errors = trials.loc[trials["status"] == "failed", "error"].dropna().unique()[:3]
        tail.append(f"{failed} failed: " + " | ".join(str(e) for e in errors))
    return "\n".join([text, *tail])
