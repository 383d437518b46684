"""Searches that weigh accuracy against the price of a placement (DESIGN.md §13, issue 14).

``search.objectives`` (``run --objectives val_accuracy,adapter_params,inference_cost``) names what
a search optimises: validation accuracy (maximised) first, then the adapter parameters and the
inference cost over the linear probe (minimised; placement/price.py). ``search.max_adapter_params``
and ``search.max_inference_cost`` (``--max-adapter-params``, ``--max-inference-cost``) bound the
price. Both are priced before a placement is trained: the driver counts the backbone's FLOPs once.

Searchers (``make_objective_searcher``), all behind the same Tune ``Searcher`` interface:

    tpe       Optuna's TPESampler, multi-objective when there are several objectives
              (MOTPE: Ozaki et al., 2020), over the project's slot encoding (search/encoding.py)
    gga-tpe   the same, warm-started with GGA placements
    nsga2     Optuna's NSGAIISampler over the slot encoding; its population is a quarter of the
              budget (between 4 and 50), so a small budget still breeds a few generations
    random    uniform placements (a baseline; it ignores the objectives)

Ray Tune's ``OptunaSearch`` takes the objectives as lists of metrics and modes. With limits,
the Optuna samplers get a ``constraints_func`` (the violations, computed from a trial's parameters
alone), so they learn where the feasible region is, and ``ObjectiveSearcher`` sees to it that
infeasible placements are never trained: a suggestion over a limit is told to the inner searcher
straight away as an infeasible trial (val accuracy 0, its real price) and the inner searcher is
asked again. Every result the inner searcher gets is completed with the placement's price, so
replay over a store that lacks the price columns still gives every objective.

Given ``study`` (results store URL, search name), the Optuna searchers keep their study beside
the results store as single-objective ``tpe`` does (search/study.py): a multi-objective study with
the objectives' directions and, under limits, each trial's constraint values.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

from ray.tune.search import Searcher

from placement_search.config import Config
from placement_search.errors import PlacementSearchError
from placement_search.placement.edges import EdgeSpace, Placement
from placement_search.placement.price import FlopProfile, price
from placement_search.placement.selection import Scores
from placement_search.search.encoding import DefineByRunSpace, decode_placement, encode_placement
from placement_search.search.searchers import RandomPlacementSearcher, _PickledState, gga_warm_starts

#: objective name -> (result / store column, Tune mode)
OBJECTIVE_METRICS = {"val_accuracy": ("val_accuracy", "max"), "adapter_params": ("num_adapter_params", "min"),
                     "inference_cost": ("inference_cost", "min")}
#: searchers that run under objectives or limits
OBJECTIVE_SEARCHERS = ("tpe", "gga-tpe", "nsga2", "random")
#: draws of the inner searcher per suggestion before a search with limits gives up
MAX_DRAWS = 2000


def is_priced_search(cfg: Config, searcher: str) -> bool:
    """Whether the search runs through ``make_objective_searcher``: several objectives, a limit, or nsga2."""
    s = cfg.search
    return (len(s.objectives) > 1 or s.max_adapter_params is not None or s.max_inference_cost is not None
            or searcher == "nsga2")


def metrics_and_modes(objectives: list[str]) -> tuple[list[str], list[str]]:
    return [OBJECTIVE_METRICS[o][0] for o in objectives], [OBJECTIVE_METRICS[o][1] for o in objectives]


@dataclass
class Pricer:
    """A placement's price columns (``num_adapter_params``, ``inference_cost``) and its limit
    violations (<= 0 where within a limit). Picklable: it keeps the backbone's FLOP profile only."""

    profile: FlopProfile
    sizes: tuple[int, int, int]
    prefix_cache: bool
    max_adapter_params: int | None = None
    max_inference_cost: float | None = None
    _memo: dict[str, dict[str, float]] = field(default_factory=dict, repr=False)

    def __call__(self, placement: Placement | str) -> dict[str, float]:
        key = str(placement)
        if key not in self._memo:
            p = price(self.profile, Placement.parse(key), *self.sizes, self.prefix_cache)
            self._memo[key] = {"num_adapter_params": p.adapter_params, "inference_cost": p.inference_cost}
        return self._memo[key]

    def violations(self, placement: Placement | str) -> list[float]:
        paid = self(placement)
        out = []
        if self.max_adapter_params is not None:
            out.append(float(paid["num_adapter_params"] - self.max_adapter_params))
        if self.max_inference_cost is not None:
            out.append(float(paid["inference_cost"] - self.max_inference_cost))
        return out

    def feasible(self, placement: Placement | str) -> bool:
        return all(v <= 0 for v in self.violations(placement))


def make_pricer(cfg: Config) -> Pricer:
    """The pricer of ``cfg``: the backbone's FLOP profile, counted once in this process."""
    from placement_search.experiment import load_experiment
    from placement_search.placement.price import flop_profile

    backbone, task = load_experiment(cfg)
    profile = flop_profile(backbone, cfg.task, cfg.adapter, task.num_classes)
    return Pricer(profile, (len(task.train), len(task.validation), len(task.test)), cfg.training.prefix_cache,
                  cfg.search.max_adapter_params, cfg.search.max_inference_cost)


class OptunaConstraints:
    """Optuna's ``constraints_func``: a trial's limit violations, from its parameters alone."""

    def __init__(self, space: EdgeSpace, k_range: tuple[int, int], pricer: Pricer):
        self.space, self.k_range, self.pricer = space, k_range, pricer

    def __call__(self, trial) -> list[float]:
        params = dict(trial.params)
        params.setdefault("k", self.k_range[0])
        return self.pricer.violations(decode_placement(params, self.space))


class ObjectiveSearcher(_PickledState, Searcher):
    """Wraps a searcher: no placement over a limit leaves it (module doc), and every result it
    passes on carries the placement's price."""

    def __init__(self, searcher: Searcher, space: EdgeSpace, pricer: Pricer):
        # outside, the search is judged on val accuracy (Tune's progress, the duplicate wrapper's
        # bookkeeping); the inner searcher has the objectives' metric and mode lists
        super().__init__(metric="val_accuracy", mode="max")
        self.searcher, self.space, self.pricer = searcher, space, pricer
        self.inner_id: dict[str, str] = {}
        self.placements: dict[str, str] = {}
        self.rejected = 0

    @property
    def study_location(self) -> str | None:
        return getattr(self.searcher, "study_location", None)

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        return self.searcher.set_search_properties(metric, mode, config, **spec)

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        return self.searcher.set_max_concurrency(max_concurrent)

    def suggest(self, trial_id: str) -> dict | None:
        for draw in range(MAX_DRAWS):
            inner = trial_id if draw == 0 else f"{trial_id}~over{draw}"
            config = self.searcher.suggest(inner)
            if config is None or config == Searcher.FINISHED:
                return config
            placement = str(decode_placement(dict(config), self.space))
            if self.pricer.feasible(placement):
                self.inner_id[trial_id], self.placements[trial_id] = inner, placement
                return config
            self.rejected += 1
            self.searcher.on_trial_complete(inner, result={"val_accuracy": 0.0, **self.pricer(placement)})
        limits = {k: v for k, v in (("max_adapter_params", self.pricer.max_adapter_params),
                                    ("max_inference_cost", self.pricer.max_inference_cost)) if v is not None}
        raise PlacementSearchError(
            f"the searcher drew {MAX_DRAWS} placements in a row over the limits "
            f"{', '.join(f'search.{k}={v:g}' for k, v in limits.items())}; loosen them or lower space.k")

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self.searcher.on_trial_result(self.inner_id.get(trial_id, trial_id), result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        inner = self.inner_id.pop(trial_id, trial_id)
        placement = self.placements.pop(trial_id, None)
        if result is not None:
            if placement is None and result.get("placement") is not None:
                placement = str(result["placement"])
            if placement is not None:
                measured = {k: v for k, v in result.items() if v is not None}
                result = {**self.pricer(placement), **measured}
        self.searcher.on_trial_complete(inner, result=result, error=error)

    def get_state(self) -> dict:
        return dict(self.__dict__)  # the inner searcher too: Optuna's study pickles

    def set_state(self, state: dict) -> None:
        self.__dict__.update(state)

    def restore(self, checkpoint_path: str) -> None:
        """Restore from ``save``; the stored study then follows the restored state (search/study.py).
        Tune's own restore calls ``set_state`` here and then restores the inner searcher from its
        checkpoint (``restore_from_dir``), which rewrites the study itself."""
        super().restore(checkpoint_path)
        rewrite = getattr(self.searcher, "rewrite_mirror", None)
        if rewrite is not None:
            rewrite()


def make_objective_searcher(
    name: str, cfg: Config, space: EdgeSpace, num_samples: int, seed: int, scores: Callable[[], Scores],
    pricer: Pricer | None = None, study: tuple[str, str] | None = None,
) -> ObjectiveSearcher:
    """The searcher of a priced search (``is_priced_search``), wrapped in ``ObjectiveSearcher``.
    With ``study`` (results store URL, search name) the Optuna searchers keep their study beside
    the store (search/study.py)."""
    import optuna

    from placement_search.search.study import make_optuna_search

    if name not in OBJECTIVE_SEARCHERS:
        raise PlacementSearchError(
            f"searcher {name} does not take search.objectives or price limits; use one of {', '.join(OBJECTIVE_SEARCHERS)}")
    pricer = pricer or make_pricer(cfg)
    metric, mode = metrics_and_modes(cfg.search.objectives)
    if len(metric) == 1:
        metric, mode = metric[0], mode[0]
    k_range = cfg.space.k_range
    training_seed = (cfg.search.seeds or [cfg.training.seed])[0]
    if name == "random":
        return ObjectiveSearcher(RandomPlacementSearcher(space, k_range, seed, training_seed), space, pricer)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    vary_k = k_range[0] != k_range[1]
    limited = cfg.search.max_adapter_params is not None or cfg.search.max_inference_cost is not None
    constraints = OptunaConstraints(space, k_range, pricer) if limited else None
    warm = []
    if name == "gga-tpe":
        count = cfg.search.warm_starts or max(2, num_samples // 4)
        warm = [p for p in gga_warm_starts(scores(), space, k_range, cfg.search.gga_gammas, min(count, num_samples))
                if pricer.feasible(p)]
    with warnings.catch_warnings():
        # Optuna 5 deprecates constraints_func (removal planned for v7) for Trial.set_constraint, which
        # needs the live trial that Tune's OptunaSearch keeps private; the function is supported until then
        warnings.simplefilter("ignore", FutureWarning)
        if name == "nsga2":
            population = max(4, min(50, num_samples // 4))
            sampler = optuna.samplers.NSGAIISampler(seed=seed, population_size=population,
                                                    constraints_func=constraints)
        else:
            n_startup = max(len(warm), min(10, max(2, num_samples // 4)))
            sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup, multivariate=True,
                                                 group=vary_k, constraints_func=constraints)
    settings = {"space": DefineByRunSpace(space.num_points, k_range, training_seed), "metric": metric, "mode": mode,
                "sampler": sampler, "points_to_evaluate": [encode_placement(p, vary_k) for p in warm] or None}
    return ObjectiveSearcher(make_optuna_search(study, **settings), space, pricer)


__all__ = ["OBJECTIVE_METRICS", "OBJECTIVE_SEARCHERS", "ObjectiveSearcher", "OptunaConstraints", "Pricer",
           "is_priced_search", "make_objective_searcher", "make_pricer", "metrics_and_modes"]
