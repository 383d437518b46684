"""prior-gp: a Gaussian-process searcher that starts from priors and learns how far to trust them.

Each edge e of the space has a prior utility (in standardised-accuracy units)

    mu0(e) = w_transfer * m_t(e) + w_score * m_r(e) + w_backbone * r_b * m_b(e)    (then standardised)

m_t: the transfer prior (``features.TransferPrior``: what recurs across other tasks' ground
truths: recurrent edges into the middle of the network are good, long-range edges into the last
points are bad); m_r: the task's gradient-rank score, standardised (``features.py``); m_b: the
mean of the source maps measured on this very backbone, edge for edge, and r_b its expected
Spearman with a new task (``TransferPrior.backbone_map``; zero below three maps). The shared
structure m_t is smooth across backbones; m_b keeps the single edges that are good on every task
of the backbone.

The surrogate is scikit-learn's ``GaussianProcessRegressor`` on the trials run so far, with the
prior as its mean and a kernel that lets the data revise it:

    y(e) = prior_strength * mu0(e) + f(e) + noise
    f    ~ GP(0, 1 + trust_var * (m_t m_t' + m_r m_r' + m_b m_b') + struct_var * Matern(src, dst, recurrent)
               [+ source_var / m * sum_s m_s m_s' over the backbone's m source maps])

The linear terms are Bayesian regressions on the prior's own components: when trials
contradict the scores (or the transfer prior), the posterior coefficient on that component
moves against it and cancels it, so a misleading prior is dropped as data arrives. The Matern
term over (source, destination, recurrent?) makes neighbouring edges perform alike, so a good
measured edge raises its neighbours. Observed accuracies enter as normal scores (rank-based),
so the same hyper-parameters serve tasks whose accuracies spread by 0.5 or 5 points.

Single-edge suggestions (``acquisition``):

- ``"ei"`` (the default): expected improvement per unit of compute. For each edge not yet
  suggested, EI of its posterior over the best posterior mean among the tried edges, divided by
  its relative cost per epoch (search/cost.py's measured table) to the power ``cost_exponent``:
  Snoek et al. (2012)'s "EI per second". The cost matters because an edge's price varies 20x
  (a recurrent edge re-runs the network from its destination, an edge into the last points
  trains one sub-layer) and good edges are often the dear ones: the searcher pays for a dear
  edge only when its chance of improving is worth it, and tries cheap edges early, which also
  teaches it where the priors are wrong. The edge is drawn with probability proportional to
  (EI / cost ** cost_exponent) ** (1 / temperature) (Gumbel-max), so the seed varies the
  trajectory: at temperature 0 the searcher is deterministic and its figure on a ground truth is
  one lucky or unlucky path instead of a median.
- ``"thompson"``: one joint posterior draw of y over the edges not yet suggested, and its argmax.

Both start from the prior (before any result, the posterior is the prior), depend on the seed
only, and never suggest a pending edge twice.

``random_share``: that share of the suggestions (K = 1 and K > 1) is drawn uniformly among the
untried placements instead, as SMAC3 interleaves random configurations with its model's
(``ProbabilityRandomDesign``; Hutter et al. 2011). It bounds the loss where the priors mislead:
with share p the searcher finds what random search finds in about 1/p of random's compute, whatever
the priors say.

K > 1: a placement is K edges. Its warm starts are GGA (DESIGN.md §7) run on an edge utility
built from the single edges this benchmark already measured (their accuracies, standardised)
and, for edges not measured, mu0: GGA's distance discount applied to measured accuracies. After
them, each suggestion draws edge utilities from the posterior and picks K edges from the draw
with GGA's discount; a K-edge result updates the model as an observation of each of its edges
with K times the noise variance.

Row and column terms (``axis_var``): two more additive kernel terms, a Matern over the source
point alone and one over the destination point alone, so a result on s->d informs every edge into
d and every edge out of s, however far. The destination alone explains 74-95 % of the variance of
single-edge accuracy on four of the five measured maps (56 % on movie sentiment, 82 % with the
source), and within the transfer prior's upper half, where a search spends its trials and the prior
itself explains next to nothing, source and destination still predict 12-62 % of a left-out edge
(``analysis/map_structure.py``). Which row and column are good differs by task, so it is learned
from the trials, not carried in the transfer prior.

Hyper-parameters (``PriorGPParams``): one set for every task, chosen by
``analysis/searcher_selection.py`` (a grid over the cost exponent, the prior's strength, the
neighbourhood term, the random share and the row/column terms, replayed on every ground truth
with the transfer prior fitted without it; ranked by the worst log(median compute / random's)
over ground truths and targets, short list re-run with 100 seeds; leave-one-ground-truth-out
figures in analysis/results/searcher_selection/). The chosen set (six ground truths: the five
MiniLM and DINOv2 maps of the first selection and the complete DINOv2 x digits map) leans on the
transfer prior (strength 2), lets a result inform its near neighbours (struct_var 1.5) but not its
whole row and column (axis_var 0: the rule preferred it, though row/column terms stay available),
learns the gradient-rank score's slope from the trials (score weight 0 in the prior mean,
trust_var 2), weighs cost linearly (EI / cost), draws at temperature 0.3, and picks a quarter of
its edges uniformly at random (random_share 0.25), which bounds the loss on a task whose best
edges the priors rate low. The backbone map (``backbone_weight``) was put to the same rule in
session 20 and kept off: it pays on a sibling of a source task (TREC fine of TREC-6), costs on a
task unlike the sources (movie sentiment) and changed nothing on two held-out MiniLM tasks
(analysis/results/searcher_selection/backbone_map/); ``search.backbone_map_weight`` turns it on.
Slopes on each source map of the backbone (``source_var``: a Bayesian-regression term per map,
nothing in the prior mean, so the trials decide which source tasks the new one resembles) were put
to it in session 21 and kept off for the same reasons: TREC fine (b) 0.82x to 0.26x random, movie
(b) 0.96x to 1.01x-1.08x, no consistent difference on NYT and Amazon
(analysis/results/searcher_selection/source_slopes/); ``search.source_map_var`` turns them on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace

import numpy as np
from sklearn.gaussian_process.kernels import Hyperparameter, Kernel

from placement_search.placement.edges import Edge, EdgeSpace, Placement
from placement_search.search.features import EdgeFeatures, normal_scores


@dataclass(frozen=True)
class PriorGPParams:
    """The searcher's few hyper-parameters (units: standardised accuracy)."""

    transfer_weight: float = 1.0  # weight of the transfer prior (structure learned on other tasks) in the prior mean
    backbone_weight: float = 0.0  # weight of the backbone's own source maps (times their expected Spearman); 0: unused (the rule kept it off)
    score_weight: float = 0.0     # weight of the gradient-rank score in the prior mean (its slope is still learned)
    prior_strength: float = 2.0   # how far the prior mean moves y before any trial
    trust_var: float = 2.0        # prior variance of the slopes on the prior's components (transfer prior, score)
    struct_var: float = 1.5       # variance of the structural (neighbourhood) GP term
    lengthscale: float = 0.2      # Matern length scale over normalised source/destination
    axis_var: float = 0.0         # variance of each additive term on the source alone and on the destination alone
    source_var: float = 0.0       # prior variance of the learned slopes on the backbone's source maps, shared among them; 0: unused
    axis_lengthscale: float = 0.15 # their Matern length scale over the normalised point
    noise_var: float = 1.0        # observation noise (training noise and model misfit)
    gamma: float = 0.6            # GGA distance discount for K > 1 picks
    acquisition: str = "ei"       # K = 1 picks: "ei" (expected improvement per cost) or "thompson" (a posterior draw's argmax)
    cost_exponent: float = 1.0    # "ei": maximise EI / relative cost per epoch ** cost_exponent (0: plain EI)
    temperature: float = 0.3      # "ei": draw the edge with probability ∝ (EI / cost ** cost_exponent) ** (1 / temperature); 0: argmax
    random_share: float = 0.25    # share of suggestions drawn uniformly among untried placements (SMAC's random interleaving)

    def replace(self, **changes) -> PriorGPParams:
        return replace(self, **changes)

    def __post_init__(self) -> None:
        if self.acquisition not in ACQUISITIONS:
            raise ValueError(f"prior-gp acquisition {self.acquisition!r} is not one of {', '.join(ACQUISITIONS)}")
        if not 0.0 <= self.random_share <= 1.0:
            raise ValueError(f"prior-gp random_share {self.random_share} is not a share in [0, 1]")
        if self.axis_var < 0 or self.axis_lengthscale <= 0:
            raise ValueError(f"prior-gp axis_var {self.axis_var:g} must be >= 0 and axis_lengthscale "
                             f"{self.axis_lengthscale:g} > 0")

    @classmethod
    def from_dict(cls, raw: Mapping[str, float | str]) -> PriorGPParams:
        kinds = {f.name: f.type for f in fields(cls)}
        return cls(**{k: (str(v) if kinds[k] == "str" else float(v)) for k, v in raw.items() if k in kinds})


#: how prior-gp picks the next single edge (``PriorGPParams.acquisition``)
ACQUISITIONS = ("thompson", "ei")


DEFAULT_PARAMS = PriorGPParams()


class Columns(Kernel):
    """A scikit-learn kernel applied to some columns of X (active dimensions), so one GP can sum
    linear terms on the prior's components and a Matern term on structure."""

    def __init__(self, kernel, columns):
        self.kernel, self.columns = kernel, columns

    def get_params(self, deep=True):
        params = {"kernel": self.kernel, "columns": self.columns}
        if deep:
            params.update(("kernel__" + k, v) for k, v in self.kernel.get_params().items())
        return params

    @property
    def hyperparameters(self):
        return [Hyperparameter("kernel__" + h.name, h.value_type, h.bounds, h.n_elements)
                for h in self.kernel.hyperparameters]

    @property
    def theta(self):
        return self.kernel.theta

    @theta.setter
    def theta(self, theta):
        self.kernel.theta = theta

    @property
    def bounds(self):
        return self.kernel.bounds

    def __call__(self, X, Y=None, eval_gradient=False):
        cols = list(self.columns)
        return self.kernel(np.asarray(X)[:, cols], None if Y is None else np.asarray(Y)[:, cols], eval_gradient)

    def diag(self, X):
        return self.kernel.diag(np.asarray(X)[:, list(self.columns)])

    def is_stationary(self):
        return self.kernel.is_stationary()


class EdgeModel:
    """The GP over the edges of one space: prior mean, kernel, conditioning and joint draws."""

    def __init__(self, features: EdgeFeatures, transfer: np.ndarray, params: PriorGPParams,
                 backbone_map: tuple[np.ndarray, float] | None = None, source_maps: np.ndarray | None = None):
        from sklearn.gaussian_process.kernels import ConstantKernel, DotProduct, Matern

        self.edges = features.edges
        self.index = {e: i for i, e in enumerate(self.edges)}
        self.params = params
        m_t = np.asarray(transfer, float)
        m_t = (m_t - m_t.mean()) / (m_t.std() or 1.0)
        m_r = features.column("rank") if "rank" in features.columns else np.zeros(len(self.edges))
        # the backbone's own source maps (TransferPrior.backbone_map): their mean and its weight
        m_b, r_b = backbone_map if backbone_map is not None else (np.zeros(len(self.edges)), 0.0)
        m_b = np.asarray(m_b, float) if params.backbone_weight > 0 and r_b > 0 else np.zeros(len(self.edges))
        if m_b.shape != (len(self.edges),):
            raise ValueError("the backbone map must give one value per edge of the space")
        self.mu0 = params.transfer_weight * m_t + params.score_weight * m_r + params.backbone_weight * r_b * m_b
        self.mu0 = (self.mu0 - self.mu0.mean()) / (self.mu0.std() or 1.0)
        rec = features.column("is_recurrent")
        # X columns: m_t, m_r, src, dst, recurrent, m_b (zeros, and no kernel term, when unused), then
        # one column per source map of the backbone when their slopes are learned (source_var > 0)
        maps = np.zeros((len(self.edges), 0)) if source_maps is None or params.source_var <= 0 else np.asarray(source_maps, float)
        if maps.ndim != 2 or maps.shape[0] != len(self.edges):
            raise ValueError("the source maps must give one row per edge of the space")
        self.X = np.column_stack([m_t, m_r, features.column("src"), features.column("dst"), rec, m_b, maps])
        fixed = "fixed"
        # a free level (the observed accuracies are standardised among themselves, so their level
        # says nothing), two Bayesian-regression slopes on the prior's components, a neighbourhood term
        self.kernel = (
            ConstantKernel(1.0, fixed)
            + ConstantKernel(params.trust_var, fixed) * Columns(DotProduct(0.0, fixed), (0,))
            + ConstantKernel(params.trust_var, fixed) * Columns(DotProduct(0.0, fixed), (1,))
            + ConstantKernel(params.struct_var, fixed)
            * Columns(Matern([params.lengthscale, params.lengthscale, 1.0], fixed, nu=2.5), (2, 3, 4))
        )
        if m_b.any():  # the backbone map's slope; a zero column would only cost every GP fit a term
            self.kernel = self.kernel + ConstantKernel(params.trust_var, fixed) * Columns(DotProduct(0.0, fixed), (5,))
        if maps.shape[1]:  # a slope per source map, N(0, source_var / m): the trials say which sources their task resembles
            self.kernel = self.kernel + ConstantKernel(params.source_var / maps.shape[1], fixed) * Columns(
                DotProduct(0.0, fixed), tuple(range(6, 6 + maps.shape[1])))
        if params.axis_var > 0:  # rows and columns of the map: edges out of one point, edges into one point
            for column in (2, 3):
                self.kernel = self.kernel + ConstantKernel(params.axis_var, fixed) * Columns(
                    Matern(params.axis_lengthscale, fixed, nu=2.5), (column,))

        self.prior_sd = np.sqrt(self.kernel.diag(self.X))
        self._chol: np.ndarray | None = None

    @property
    def chol(self) -> np.ndarray:
        """One Cholesky factor of the prior covariance over every edge, for joint prior draws
        (Thompson picks, K > 1); posterior draws condition them on the data by pathwise (Matheron)
        updates through the library GP. Built on first use: expected improvement never needs it,
        and at 6,561 edges it takes seconds."""
        if self._chol is None:
            cov = self.kernel(self.X)
            jitter = 1e-6 * max(1.0, float(np.mean(np.diag(cov))))
            self._chol = np.linalg.cholesky(cov + jitter * np.eye(len(self.edges)))
        return self._chol

    def prior_mean(self, idx: np.ndarray) -> np.ndarray:
        return self.params.prior_strength * self.mu0[idx]

    def _condition(self, obs_idx: Sequence[int], obs_z: Sequence[float], obs_noise: Sequence[float],
                   f_obs: np.ndarray | float = 0.0, eps: np.ndarray | float = 0.0):
        """scikit-learn's GP (fixed kernel) fitted to the standardised observations minus the prior
        mean (centred on the observed edges), minus a prior draw ``f_obs`` and a noise draw ``eps``."""
        from sklearn.gaussian_process import GaussianProcessRegressor

        oi = np.asarray(obs_idx, int)
        offset = self.prior_mean(oi).mean()
        targets = np.asarray(obs_z, float) - (self.prior_mean(oi) - offset) - f_obs - eps
        gp = GaussianProcessRegressor(self.kernel, alpha=np.asarray(obs_noise, float), optimizer=None,
                                      normalize_y=False)
        return gp.fit(self.X[oi], targets), offset

    def posterior(self, obs_idx: Sequence[int], obs_z: Sequence[float], obs_noise: Sequence[float],
                  with_sd: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """Posterior mean of every edge's standardised utility, and its standard deviation
        (None unless ``with_sd``: the K > 1 warm starts need only the mean)."""
        everything = np.arange(len(self.edges))
        if not len(obs_idx):
            return self.prior_mean(everything), (self.prior_sd.copy() if with_sd else None)
        gp, offset = self._condition(obs_idx, obs_z, obs_noise)
        if not with_sd:
            return self.prior_mean(everything) - offset + gp.predict(self.X), None
        mean, sd = gp.predict(self.X, return_std=True)
        return self.prior_mean(everything) - offset + mean, sd

    def draw(self, obs_idx: Sequence[int], obs_z: Sequence[float], obs_noise: Sequence[float],
             candidates: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One joint posterior draw of the standardised utility at ``candidates``.

        A joint prior draw f over all edges is moved to a posterior draw by Matheron's rule:
        f + E[g | targets] with targets = y - prior mean - f(X) - noise draw, E[.] being the
        posterior mean of scikit-learn's GaussianProcessRegressor with the same kernel.
        """
        candidates = np.asarray(candidates, int)
        f = self.chol @ rng.standard_normal(len(self.edges))
        if not len(obs_idx):
            return self.prior_mean(candidates) + f[candidates]
        oi = np.asarray(obs_idx, int)
        eps = np.sqrt(np.asarray(obs_noise, float)) * rng.standard_normal(len(oi))
        gp, offset = self._condition(oi, obs_z, obs_noise, f[oi], eps)
        return self.prior_mean(candidates) - offset + f[candidates] + gp.predict(self.X[candidates])


def gga_pick(utility: Mapping[Edge, float], space: EdgeSpace, k: int, gamma: float) -> Placement:
    """GGA's greedy pick with distance discount on any utility (shifted to be positive)."""
    from placement_search.placement.selection import gga

    values = np.asarray([utility[e] for e in space.edges], float)
    positive = {e: float(v - values.min() + 1e-6) for e, v in zip(space.edges, values, strict=True)}
    return gga(positive, space, k, gamma)


def _searcher_base():
    from ray.tune.search import Searcher

    from placement_search.search.searchers import METRIC, MODE, _PickledState

    return _PickledState, Searcher, METRIC, MODE


_PickledState, _Searcher, _METRIC, _MODE = _searcher_base()


class PriorGPSearcher(_PickledState, _Searcher):
    """The prior-gp searcher (module doc). ``transfer`` is the transfer prior's prediction per edge
    of ``features.edges``; ``measured`` maps single edges this benchmark already measured to their
    validation accuracy (used for K > 1 warm starts only: a K = 1 search must not be handed its own
    answers)."""

    def __init__(self, space: EdgeSpace, k_range: tuple[int, int], seed: int, training_seed: int,
                 features: EdgeFeatures, transfer: np.ndarray, params: PriorGPParams = DEFAULT_PARAMS,
                 measured: Mapping[Edge, float] | None = None, warm_gammas: Sequence[float] = (0.6, 0.0, 0.3, 0.9),
                 warm_count: int = 0, model: EdgeModel | None = None, costs: Sequence[float] | None = None,
                 backbone_map: tuple[np.ndarray, float] | None = None, source_maps: np.ndarray | None = None):
        super().__init__(metric=_METRIC, mode=_MODE)
        if tuple(features.edges) != tuple(space.edges):
            raise ValueError("features must cover exactly the space's edges, in its order")
        self.space, self.k_range, self.training_seed = space, tuple(k_range), training_seed
        self.params = params
        # ``model``: an EdgeModel built from the same features, transfer prior and params (it holds no
        # search state, so replays of many seeds can share one)
        self.model = model if model is not None else EdgeModel(features, transfer, params, backbone_map,
                                                                     source_maps)
        self.rng = np.random.default_rng(seed)
        # relative cost of one epoch on each edge (search/cost.py), for the "ei" acquisition's cost term
        costs = np.ones(len(self.model.edges)) if costs is None else np.asarray(costs, float)
        if costs.shape != (len(self.model.edges),) or not (np.isfinite(costs) & (costs > 0)).all():
            raise ValueError("costs must give one positive cost per edge of the space")
        self.log_costs = np.log(costs)
        self.seen: set[str] = set()
        self.pending: dict[str, str] = {}
        self.observations: list[tuple[tuple[int, ...], float]] = []
        self.warm: list[str] = []
        # K > 1: the measured single edges are observations of their own group (standardised
        # apart from the K-edge results, whose accuracies sit at another level)
        self.singles: list[tuple[int, float]] = []
        if self.k_range[1] > 1 and measured:
            self.singles = [(self.model.index[e], float(a)) for e, a in sorted(measured.items())
                            if e in self.model.index and a is not None and np.isfinite(float(a))]
        if self.k_range[1] > 1 and warm_count > 0:
            from placement_search.search.searchers import gga_warm_starts

            # the measured edges at their own (standardised) accuracy, the others at the posterior
            # mean: the model's smooth fit must not hide a measured edge that beats its neighbours
            mean, _ = self.model.posterior(*self._observed(), with_sd=False)
            if self.singles:
                mean[[i for i, _ in self.singles]] = normal_scores([a for _, a in self.singles])
            positive = {e: float(v - mean.min() + 1e-6) for e, v in zip(self.model.edges, mean, strict=True)}
            lo = max(self.k_range[0], 2)
            starts = gga_warm_starts(positive, space, (lo, self.k_range[1]), list(warm_gammas), warm_count)
            self.warm = [str(p) for p in starts]

    # -------------------------------------------------------------------------------- Searcher

    def suggest(self, trial_id: str) -> dict | None:
        text = None
        while self.warm and text is None:
            candidate = self.warm.pop(0)
            text = None if candidate in self.seen else candidate
        if text is None:
            text = self._draw_placement()
            if text is None:
                return _Searcher.FINISHED
        self.seen.add(text)
        self.pending[trial_id] = text
        return {"placement": text, "seed": self.training_seed}

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        text = self.pending.pop(trial_id, None)
        if text is None:
            return
        value = None if error or not result else result.get(_METRIC)
        if value is None or not np.isfinite(float(value)):
            return  # a failed trial teaches nothing about the placement; it is not suggested again
        idx = tuple(self.model.index[e] for e in Placement.parse(text).edges)
        self.observations.append((idx, float(value)))

    def get_state(self) -> dict:
        return {"rng": self.rng.bit_generator.state, "seen": sorted(self.seen), "pending": dict(self.pending),
                "observations": [(list(i), y) for i, y in self.observations], "warm": list(self.warm),
                "singles": [list(s) for s in self.singles],
                "params": asdict(self.params)}

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.seen = set(state["seen"])
        self.pending = dict(state["pending"])
        self.observations = [(tuple(i), float(y)) for i, y in state["observations"]]
        self.warm = list(state["warm"])
        self.singles = [(int(i), float(a)) for i, a in state.get("singles", [])]

    # ------------------------------------------------------------------------------ internals

    def _observed(self) -> tuple[list[int], list[float], list[float]]:
        """(edge index, standardised value, noise variance) of every observation: measured single
        edges (K > 1 only) and this search's results, each group as normal scores of its own; a
        K-edge result counts for each of its edges, with K times the noise."""
        idx, zs, noise = [], [], []
        if self.singles:
            idx += [i for i, _ in self.singles]
            zs += list(normal_scores([a for _, a in self.singles]))
            noise += [self.params.noise_var] * len(self.singles)
        if self.observations:
            z = normal_scores([y for _, y in self.observations])
            for (edges, _), value in zip(self.observations, z, strict=True):
                for i in edges:
                    idx.append(i)
                    zs.append(float(value))
                    noise.append(self.params.noise_var * len(edges))
        return idx, zs, noise

    def _draw_placement(self) -> str | None:
        k = int(self.rng.integers(self.k_range[0], self.k_range[1] + 1))
        # the random share draws no model (and no rng) at 0, so the model's trajectories stay as they were
        uniform = self.params.random_share > 0 and self.rng.random() < self.params.random_share
        # a uniform pick reads no model: the observations are gathered only for the model's picks
        obs_idx, obs_z, obs_noise = ([], [], []) if uniform else self._observed()
        if k == 1:
            taken = {self.model.index[Edge.parse(t)] for t in self.seen if "," not in t and t}
            free = np.asarray([i for i in range(len(self.model.edges)) if i not in taken], int)
            if len(free) == 0:
                return None
            if uniform:
                return str(Placement.of([self.model.edges[int(self.rng.choice(free))]]))
            if self.params.acquisition == "ei":
                utility = self._ei_per_cost(obs_idx, obs_z, obs_noise)[free]
                if self.params.temperature > 0:  # Gumbel-max: a draw with probability ∝ exp(utility / temperature)
                    utility = utility + self.params.temperature * self.rng.gumbel(size=len(free))
            else:
                utility = self.model.draw(obs_idx, obs_z, obs_noise, free, self.rng)
            return str(Placement.of([self.model.edges[free[int(np.argmax(utility))]]]))
        everything = np.arange(len(self.model.edges))
        for _ in range(0 if uniform else 20):
            sample = self.model.draw(obs_idx, obs_z, obs_noise, everything, self.rng)
            text = str(gga_pick(dict(zip(self.model.edges, sample, strict=True)), self.space, k, self.params.gamma))
            if text not in self.seen:
                return text
        for _ in range(1000):  # the draws keep landing on tried placements: any untried one
            text = str(Placement.of([self.model.edges[i] for i in self.rng.choice(len(everything), k, replace=False)]))
            if text not in self.seen:
                return text
        return None

    def _ei_per_cost(self, obs_idx, obs_z, obs_noise) -> np.ndarray:
        """log(expected improvement over the best posterior mean among tried edges) minus
        ``cost_exponent`` x log(relative cost per epoch), for every edge: improvement per unit of
        compute (Snoek et al. 2012's "EI per second"), so a cheap edge with a fair chance is tried
        before an expensive one with the same chance. Deterministic given the observations."""
        from scipy.stats import norm

        mean, sd = self.model.posterior(obs_idx, obs_z, obs_noise)
        best = float(np.max(mean[np.asarray(obs_idx, int)])) if len(obs_idx) else float(np.max(mean))
        sd = np.maximum(sd, 1e-9)
        z = (mean - best) / sd
        # log EI, stable far into the lower tail: log(sd) + log(z Phi(z) + phi(z))
        log_ei = np.log(sd) + np.where(z > -6, np.log(np.maximum(z * norm.cdf(z) + norm.pdf(z), 1e-300)),
                                       norm.logpdf(z) - 2 * np.log(np.maximum(np.abs(z), 6.0)))
        return log_ei - self.params.cost_exponent * self.log_costs


def prior_task_name(backbone: str, task: str) -> str:
    """How the transfer prior names a source ground truth: ``backbone/task``."""
    return f"{backbone}/{task}"


def edge_costs(cfg, space: EdgeSpace) -> np.ndarray:
    """Relative cost of one epoch on each single edge of ``space`` (search/cost.py: measured for the
    config's backbone when benchmarks/results/edge_cost.json has it, else the analytic model)."""
    from placement_search.search.cost import table_for_config

    table = table_for_config(cfg, space.num_points)
    return np.asarray([table.relative(Placement.of([e])) for e in space.edges], float)


def build_prior_gp(cfg, space: EdgeSpace, num_samples: int, seed: int, scores, measured=None) -> PriorGPSearcher:
    """prior-gp for a search config: the shipped transfer prior (``transfer_prior.py``; its
    structure, and the mean of the config backbone's source maps where it holds enough) with the
    sweeps of ``search.prior_sources`` added (read before the scores, so a bad store fails first), the
    config's gradient-rank scores (``scores()``: an edge -> rank mapping or a score frame) and,
    for K > 1, the benchmark's measured single edges (``measured()``) as GGA warm starts."""
    from placement_search.search.transfer_prior import PRIOR

    seeds = cfg.search.seeds or [cfg.training.seed]
    k_range = cfg.space.k_range
    # never a prior fitted on this very backbone and task (its own ground truth)
    own = prior_task_name(cfg.backbone.name, cfg.task.name)
    prior = PRIOR.without(own)
    prior_note = None
    if cfg.search.prior_sources:  # the user's own sweeps of related tasks (search/prior_sources.py)
        from placement_search.search.prior_sources import with_prior_sources
        from placement_search.store.keys import benchmark_key

        shipped = set(prior.tasks)
        prior = with_prior_sources(prior, cfg.search.prior_sources, cfg.backbone.name, space.num_points,
                                   benchmark_key(cfg), own)
        yours = [task[0] for task in prior.tasks if task not in shipped]
        prior_note = f"transfer prior: {len(prior.sources) - len(yours)} shipped source maps + {', '.join(yours)}"
    features = EdgeFeatures.build(space, scores(), ("rank",))
    transfer = prior.predict(list(space.edges), space.num_points)
    warm_count = 0
    measured_map = None
    if k_range[1] > 1:
        warm_count = min(num_samples, cfg.search.warm_starts or max(2, num_samples // 4))
        measured_map = measured() if callable(measured) else measured
    params = DEFAULT_PARAMS
    if cfg.search.backbone_map_weight is not None:
        params = params.replace(backbone_weight=float(cfg.search.backbone_map_weight))
    if cfg.search.source_map_var is not None:
        params = params.replace(source_var=float(cfg.search.source_map_var))
    backbone_map = (prior.backbone_map(list(space.edges), space.num_points, cfg.backbone.name)
                    if params.backbone_weight > 0 else None)
    source_maps = (prior.source_maps(list(space.edges), space.num_points, cfg.backbone.name)
                   if params.source_var > 0 else None)
    searcher = PriorGPSearcher(space, k_range, seed, seeds[0], features, transfer, params, measured_map,
                               cfg.search.gga_gammas, warm_count, costs=edge_costs(cfg, space),
                               backbone_map=backbone_map, source_maps=source_maps)
    searcher.uses_scores = True
    searcher.prior_note = prior_note  # what the start line says about the user's sources (None: none)
    return searcher
