"""The searchers, all behind Ray Tune's ``Searcher`` interface.

The same objects drive a live search on Ray Tune and a replay over stored ground truth (which
calls ``suggest`` / ``on_trial_complete`` in-process), so a searcher behaves identically in both.

    random          K distinct edges uniformly from the space, no placement drawn twice
    tpe             Optuna TPE over the (source, destination) slot encoding (search/encoding.py)
    gga-tpe         TPE whose first trials are GGA placements (several gammas, then the next-best
                    score-ranked placements): the gradient-rank prior enters as warm starts
    prior-gp        a Gaussian process over edge features (search/surrogate.py) that starts from
                    priors (structure learned on other tasks' ground truths, the gradient-rank
                    scores) and learns from its trials how far to trust them; K > 1 warm-starts
                    from the single edges already measured
    nsga2           Optuna's NSGA-II over the slot encoding; with tpe, gga-tpe and random it takes
                    several objectives and price limits (search.objectives, search/objectives.py)
    exhaustive      every single edge of the space, for each training seed (the ground truth)
    baseline:NAME   one named placement (parallel-all, gga:3, ...) for each training seed

Every suggestion names its training seed (``seed`` in the config): exhaustive and baselines one
trial per seed of ``search.seeds``; random, tpe and gga-tpe, which search placements at one seed,
the first of ``search.seeds`` (``training.seed`` when it is unset), so searches of one config train
alike and a replay looks the ground truth up under the seed the placement was trained with.
"""

from __future__ import annotations

import pickle
import random
from collections.abc import Callable, Mapping

from ray.tune.search import Searcher

from placement_search.config import Config
from placement_search.errors import PlacementSearchError
from placement_search.placement.edges import Edge, EdgeSpace, Placement
from placement_search.placement.selection import Scores, gga, resolve_placement
from placement_search.search.encoding import DefineByRunSpace, encode_placement

METRIC, MODE = "val_accuracy", "max"
SEARCHERS = ("random", "tpe", "gga-tpe", "prior-gp", "nsga2", "exhaustive", "baseline:NAME")


class _PickledState:
    """save/restore through get_state/set_state, so Tune can checkpoint the searcher and resume."""

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.get_state(), f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            self.set_state(pickle.load(f))


class PlacementListSearcher(_PickledState, Searcher):
    """Suggests a fixed list of (placement, seed) or (placement, seed, label) trials in order, then
    reports it is finished. A label names the plan variant a trial belongs to (stored with it)."""

    def __init__(self, trials: list[tuple]):
        super().__init__(metric=METRIC, mode=MODE)
        self.trials = trials
        self.next_index = 0

    def suggest(self, trial_id: str) -> dict | None:
        if self.next_index >= len(self.trials):
            return Searcher.FINISHED
        placement, seed, *label = self.trials[self.next_index]
        self.next_index += 1
        return {"placement": placement, "seed": seed, **({"label": label[0]} if label and label[0] else {})}

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        pass

    def get_state(self) -> dict:
        return {"trials": self.trials, "next_index": self.next_index}

    def set_state(self, state: dict) -> None:
        self.trials, self.next_index = state["trials"], state["next_index"]


class RandomPlacementSearcher(_PickledState, Searcher):
    """Draws K (uniform in the K range) and then K distinct edges uniformly, never repeating a
    placement within the search while unseen ones remain."""

    def __init__(self, space: EdgeSpace, k_range: tuple[int, int], seed: int, training_seed: int):
        super().__init__(metric=METRIC, mode=MODE)
        self.space, self.k_range, self.training_seed = space, k_range, training_seed
        self.rng = random.Random(seed)
        self.seen: set[str] = set()

    def suggest(self, trial_id: str) -> dict | None:
        for _ in range(1000):
            k = self.rng.randint(*self.k_range)
            text = str(Placement.of(self.rng.sample(self.space.edges, k)))
            if text not in self.seen:
                break
        self.seen.add(text)
        return {"placement": text, "seed": self.training_seed}

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        pass

    def get_state(self) -> dict:
        return {"rng": self.rng.getstate(), "seen": sorted(self.seen)}

    def set_state(self, state: dict) -> None:
        self.rng.setstate(state["rng"])
        self.seen = set(state["seen"])


def gga_warm_starts(scores: Scores, space: EdgeSpace, k_range: tuple[int, int], gammas: list[float], count: int) -> list[Placement]:
    """Distinct placements to seed TPE: GGA for each K and gamma first, then the best-scored
    placements not yet used (GGA again with every earlier first pick removed from the space)."""
    starts: list[Placement] = []
    for k in range(k_range[0], k_range[1] + 1):
        for gamma in gammas:
            p = gga(scores, space, k, float(gamma))
            if p not in starts:
                starts.append(p)
    k = k_range[0]
    while len(starts) < count:
        # GGA's first pick is the best-scored edge; exclude every start's first pick and rerun
        excluded = {max(p.edges, key=lambda e: (scores[e], -e.source, -e.destination)) for p in starts}
        if len(space) - len(excluded) < k:
            break
        table = {e: float("-inf") if e in excluded else scores[e] for e in space.edges}
        p = gga(table, space, k, float(gammas[0]))
        if p in starts:
            break
        starts.append(p)
    return starts[:count]


def make_tpe(
    space: EdgeSpace, k_range: tuple[int, int], seed: int, num_samples: int, warm_starts: list[Placement] = (),
    training_seed: int | None = None, study: tuple[str, str] | None = None,
) -> Searcher:
    """Optuna TPE through Ray Tune's OptunaSearch, define-by-run over the slot encoding; ``seed``
    seeds the sampler, ``training_seed`` goes into every suggestion as its ``seed``. With ``study``
    (results store URL, search name) the study is also kept beside the store (search/study.py)."""
    import optuna

    from placement_search.search.study import make_optuna_search

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    vary_k = k_range[0] != k_range[1]
    n_startup = max(len(warm_starts), min(10, max(2, num_samples // 4)))
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup, multivariate=True, group=vary_k)
    points = [encode_placement(p, vary_k) for p in warm_starts]
    settings = {"space": DefineByRunSpace(space.num_points, k_range, training_seed), "metric": METRIC, "mode": MODE,
                "sampler": sampler, "points_to_evaluate": points or None}
    return make_optuna_search(study, **settings)


def parse_searcher(name: str) -> str:
    """Reject unknown searcher names before any work starts."""
    if name in ("random", "tpe", "gga-tpe", "prior-gp", "nsga2", "exhaustive") or name.startswith("baseline:") and len(name) > 9:
        return name
    raise PlacementSearchError(f"unknown searcher {name!r}; use one of: {', '.join(SEARCHERS)}")


def make_searcher(
    name: str,
    cfg: Config,
    space: EdgeSpace,
    num_samples: int,
    seed: int,
    scores: Callable[[], Scores],
    measured: Callable[[], Mapping[Edge, float]] | None = None,
    study: tuple[str, str] | None = None,
) -> tuple[Searcher, int]:
    """The searcher for ``name`` and how many trials it will run (list searchers set their own).

    ``measured`` (optional) gives the single-edge validation accuracies this benchmark has already
    measured; prior-gp warm-starts K > 1 searches from them. ``study`` (results store URL, search
    name), for the Optuna searchers: keep the study beside the store (search/study.py).
    """
    parse_searcher(name)
    seeds = cfg.search.seeds or [cfg.training.seed]
    k_range = cfg.space.k_range
    if k_range[1] > len(space):
        raise PlacementSearchError(f"K={k_range[1]} is larger than the {len(space)} edges of the space; lower space.k")
    from placement_search.search.objectives import is_priced_search, make_objective_searcher

    if is_priced_search(cfg, name):  # several objectives, price limits or nsga2: search/objectives.py
        return make_objective_searcher(name, cfg, space, num_samples, seed, scores, study=study), num_samples
    if name == "exhaustive":
        trials = [(str(Placement.of([e])), s) for s in seeds for e in space.edges]
        return PlacementListSearcher(trials), len(trials)
    if name.startswith("baseline:"):
        placement = resolve_placement(name.split(":", 1)[1], space, scores)
        trials = [(str(placement), s) for s in seeds]
        return PlacementListSearcher(trials), len(trials)
    if name == "random":
        return RandomPlacementSearcher(space, k_range, seed, seeds[0]), num_samples
    if name == "prior-gp":
        from placement_search.search.surrogate import build_prior_gp

        return build_prior_gp(cfg, space, num_samples, seed, scores, measured), num_samples
    warm: list[Placement] = []
    if name == "gga-tpe":
        count = cfg.search.warm_starts or max(2, num_samples // 4)
        warm = gga_warm_starts(scores(), space, k_range, cfg.search.gga_gammas, min(count, num_samples))
    return make_tpe(space, k_range, seed, num_samples, warm, training_seed=seeds[0], study=study), num_samples
