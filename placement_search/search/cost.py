"""What a search pays: trials and score tables in epoch-equivalents (DESIGN.md §12).

The unit is one training epoch of the preset recipe on the *average single edge*: the mean, over
all n^2 edges of the extended space, of one epoch's cost. A trial that trained ``epochs`` epochs of
placement P costs ``epochs * relative_cost(P)`` (an early-stopped trial only the epochs it ran; a
reused trial nothing); the gradient-rank score table costs ``scoring_cost`` once, for a search whose
searcher reads it.

Per-epoch costs follow the sub-layers a training step runs with gradients (DESIGN.md §4), ``work``:
with the prefix cache (prefix_cache.py) a single edge (i, j) re-runs only the sub-layers after its
destination j, so late destinations are cheap; a recurrent edge's pass 1 is the plain backbone
(cached) when the placement has no forward edges, otherwise the model runs pass 1 and pass 2.

Two sources of the cost per epoch, and ``CostTable.source`` says which one a figure used:

measured
    ``benchmarks/edge_cost.py`` times one epoch (training pass + validation) of a stratified set
    of single edges per backbone preset on one device, with the preset recipe and the cache on,
    and fits ``seconds = intercept[type] + slope * work``. The fit predicts every edge of the space
    (smoother than single timings on a shared machine); a placement with several edges takes the
    largest intercept of its types (an extrapolation: only single edges were timed). One scoring
    pass with the preset's scoring settings is timed on the same device in the same run.
    Chosen when the table holds the backbone (same name and number of points); a table measured
    with another task on that backbone is used as is and says so.
analytic
    For any other backbone: ``cost per epoch ∝ ANALYTIC_OVERHEAD + work`` (one sub-layer
    equivalent for embedding, head, adapters and optimiser), points the cache would have saved
    added at ``FORWARD_SHARE`` when the cache is off, and ``ANALYTIC_SCORING_EPOCHS`` for one
    scoring pass.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from placement_search.config import EDGE_TYPES
from placement_search.placement.edges import Edge, Placement

#: where benchmarks/edge_cost.py writes the measured table (a checkout's file; override with the
#: environment variable or ``load_table(path=...)``)
COST_TABLE_ENV = "PLACEMENT_SEARCH_COST_TABLE"
DEFAULT_TABLE_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "edge_cost.json"

#: analytic model: sub-layer equivalents per step besides the re-run sub-layers (embedding of the
#: batch, head, adapters, optimiser step, data handling)
ANALYTIC_OVERHEAD = 1.0
#: a forward-only sub-layer (the frozen prefix when the cache is off) against forward + backward
FORWARD_SHARE = 0.5
#: analytic model: one gradient-rank scoring pass, in epoch-equivalents (a forward/backward pass
#: over one scoring batch plus n^2 small SVDs; kept at a whole epoch so that a backbone without a
#: measured table never gets score-based searchers for free)
ANALYTIC_SCORING_EPOCHS = 1.0


def _placement(placement: Placement | str | Iterable[Edge]) -> Placement:
    if isinstance(placement, Placement):
        return placement
    if isinstance(placement, str):
        return Placement.parse(placement)
    return Placement.of(placement)


def work(placement: Placement | str, num_points: int, prefix_cache: bool = True) -> float:
    """Sub-layers one training step runs with gradients for ``placement`` (PlacedModel.final_stream):

    - no edges: 0 (only the head trains, on the cached last point);
    - no recurrent edge: the sub-layers after the first destination s, ``last - s``;
    - only recurrent edges: pass 1 is the plain backbone (cached), pass 2 re-runs after the
      smallest destination m: ``last - m``;
    - both: pass 1 from s to the largest recurrent source, pass 2 from m (its raw value recomputed
      when m != s): ``(src - s) + (last - m) + (m != s)``.

    Without the prefix cache, the plain points before that are computed forward only, each
    counted at ``FORWARD_SHARE``. The sub-layer calls come from ``placement.price.forward_schedule``
    (its ``adapted`` and ``plain`` calls), which also prices a placement's inference.
    """
    from placement_search.placement.price import forward_schedule

    schedule = forward_schedule(_placement(placement), num_points)
    return float(len(schedule.adapted)) + (0.0 if prefix_cache else FORWARD_SHARE * len(schedule.plain))


@dataclass
class CostTable:
    """Seconds (or analytic units) per epoch = intercept[type] + slope * work, normalised by the
    mean over the n^2 single edges; ``scoring_epochs`` is one scoring pass in that unit."""

    source: str  # "measured" or "analytic"
    num_points: int
    intercept: dict[str, float]
    slope: float
    scoring_epochs: float
    prefix_cache: bool = True
    preset: str | None = None
    device: str | None = None
    note: str = ""
    measured_edges: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.num_points
        singles = [Placement.of([Edge(i, j)]) for i in range(n) for j in range(n)]
        self.unit = sum(self._raw(p) for p in singles) / len(singles)
        if not self.unit > 0:
            raise ValueError(f"cost table for {n} points has a non-positive average edge cost {self.unit}")

    def _raw(self, p: Placement) -> float:
        types = {e.type for e in p}
        a = max((self.intercept.get(t, self._mean_intercept) for t in types), default=self._mean_intercept)
        return a + self.slope * work(p, self.num_points, self.prefix_cache)

    @property
    def _mean_intercept(self) -> float:
        values = list(self.intercept.values())
        return sum(values) / len(values)

    def relative(self, placement: Placement | str) -> float:
        """One epoch of ``placement`` in units of one epoch on the average single edge."""
        return self._raw(_placement(placement)) / self.unit

    def describe(self) -> str:
        """One line: which cost model a figure used."""
        if self.source == "measured":
            where = f"{self.device or 'one device'}, preset {self.preset}, {self.measured_edges} edges timed"
            return f"measured per-epoch costs ({where}){'; ' + self.note if self.note else ''}"
        return (f"analytic cost model (epoch ∝ {ANALYTIC_OVERHEAD:g} + sub-layers re-run; scoring = "
                f"{self.scoring_epochs:g} epoch){'; ' + self.note if self.note else ''}")


def analytic_table(num_points: int, prefix_cache: bool = True, note: str = "") -> CostTable:
    """The documented analytic model (module doc) for a backbone with ``num_points`` points."""
    return CostTable("analytic", num_points, {t: ANALYTIC_OVERHEAD for t in EDGE_TYPES}, 1.0,
                     ANALYTIC_SCORING_EPOCHS, prefix_cache, note=note)


def read_measurements(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """The JSON benchmarks/edge_cost.py writes (``{}`` when there is none)."""
    path = Path(path or os.environ.get(COST_TABLE_ENV) or DEFAULT_TABLE_PATH)
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def measured_table(entry: Mapping[str, Any], device: str | None = None, prefix_cache: bool = True,
                   note: str = "") -> CostTable:
    """A CostTable from one preset's entry of the measurement JSON."""
    fit = entry["fit"]
    return CostTable("measured", int(entry["num_points"]), {k: float(v) for k, v in fit["intercept"].items()},
                     float(fit["slope"]), float(entry["scoring_epochs"]), prefix_cache, entry.get("preset"),
                     device or entry.get("device"), note, len(entry.get("edges", ())), dict(entry))


def load_table(backbone: str | None, num_points: int, task: str | None = None, prefix_cache: bool = True,
               path: str | os.PathLike | None = None) -> CostTable:
    """The measured table of ``backbone`` (same number of points; the entry measured on ``task`` when
    there are several), else the analytic model. The choice is in ``source`` / ``describe()``."""
    data = read_measurements(path)
    entries = [e for e in data.get("presets", {}).values()
               if e.get("backbone") == backbone and int(e.get("num_points", -1)) == num_points]
    if not entries:
        why = "no measured table for this backbone" if data else "no measured cost table found"
        return analytic_table(num_points, prefix_cache, note=why)
    entries.sort(key=lambda e: e.get("task") != task)
    entry = entries[0]
    note = "" if task is None or entry.get("task") == task else f"measured on task {entry.get('task')}, not {task}"
    if not prefix_cache:
        note = "; ".join(filter(None, [note, "measured with the prefix cache on, this config has it off"]))
    return measured_table(entry, None, prefix_cache, note)


def table_for_config(cfg, num_points: int, path: str | os.PathLike | None = None) -> CostTable:
    """``load_table`` for a search config (its backbone, task and prefix-cache setting)."""
    return load_table(cfg.backbone.name, num_points, cfg.task.name, cfg.training.prefix_cache, path)


def table_for_description(description: Mapping[str, Any], num_points: int,
                          path: str | os.PathLike | None = None) -> CostTable:
    """``load_table`` for a stored benchmark description (the report's view of a benchmark key)."""
    backbone = (description.get("backbone") or {}).get("name")
    task = (description.get("task") or {}).get("name")
    return load_table(backbone, num_points, task, True, path)


def trial_cost(placement: Placement | str, epochs: float | None, table: CostTable) -> float:
    """Epoch-equivalents of a trial that trained ``epochs`` epochs of ``placement`` (0 for None/NaN)."""
    if epochs is None or epochs != epochs:  # noqa: PLR0124 - NaN
        return 0.0
    return float(epochs) * table.relative(placement)


def scoring_cost(table: CostTable) -> float:
    """Epoch-equivalents of one gradient-rank scoring pass (the score table, computed once)."""
    return float(table.scoring_epochs)


class _ScoresRead(BaseException):  # noqa: N818 - a signal, not an error
    """Raised by ``uses_scores``'s score provider on its first call: the answer is known then, and
    the rest of the build (a searcher's model over every edge, seconds at 6,561 edges) is not
    needed. A BaseException, so that no ``except Exception`` on the way swallows it."""


def uses_scores(searcher: str, num_points: int, cfg=None) -> bool:
    """Whether ``searcher`` reads the gradient-rank score table, so a search with it pays
    ``scoring_cost`` once: it is built (``make_searcher``, single edges) with a score provider and
    asked for one suggestion; the provider's first call stops the build and answers yes.
    A searcher that reads score tables some other way says so with a truthy ``uses_scores``
    attribute."""
    from placement_search.config import Config, config_from_dict
    from placement_search.placement.edges import EdgeSpace
    from placement_search.search.searchers import make_searcher

    if searcher == "nsga2":  # draws its first population at random (search/objectives.py)
        return False
    cfg = config_from_dict((cfg or Config()).to_dict())
    cfg.space.k, cfg.space.k_max = 1, None
    space = EdgeSpace(num_points, tuple(cfg.space.edge_types))

    def scores() -> dict[Edge, float]:
        raise _ScoresRead

    try:
        inner, _ = make_searcher(searcher, cfg, space, 8, 0, scores)
        if not getattr(inner, "uses_scores", False):
            inner.suggest("cost-probe")
    except _ScoresRead:
        return True
    return bool(getattr(inner, "uses_scores", False))


def search_overhead(searchers: Iterable[str], num_points: int, table: CostTable, cfg=None) -> dict[str, float]:
    """Up-front compute per searcher name: the scoring pass for those that read scores, else 0."""
    return {s: scoring_cost(table) if uses_scores(s, num_points, cfg) else 0.0 for s in searchers}


def trial_cost_function(table: CostTable) -> Callable[[str, float | None], float]:
    """``(placement, epochs) -> epoch-equivalents`` with a memo per placement."""
    memo: dict[str, float] = {}

    def cost(placement: str, epochs: float | None) -> float:
        if placement not in memo:
            memo[placement] = table.relative(placement)
        if epochs is None or epochs != epochs:  # noqa: PLR0124 - NaN
            return 0.0
        return float(epochs) * memo[placement]

    return cost


__all__ = ["CostTable", "analytic_table", "load_table", "table_for_config", "table_for_description", "trial_cost",
           "scoring_cost", "uses_scores", "search_overhead", "work"]
