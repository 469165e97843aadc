"""A fixed panel of small fits whose results ``tests/data/panel.npz`` records.

Each :class:`Case` names an estimator, a data set, its parameters and how it is
trained (``fit``, ``partial_fit`` on chunks, or two fits with
``warm_start=True``). :func:`run_case` trains it and returns the fitted
``coef_``, ``intercept_``, ``n_iter_``, ``t_``, ``loss_curve_`` and, with early
stopping, ``validation_scores_``, as arrays. ``tests/test_panel.py`` checks
that the current code reproduces the recorded arrays.

The panel is a covering design, not a full cross product: every registered
optimizer, every loss, dense and CSR ``X``, float64 and float32, and every
training mode, schedule, penalty and fit option appears several times, each
case combining a few of them. Combinations the estimators reject are left out:
``lbfgs`` with ``penalty="l1"``/``"elasticnet"``, with ``partial_fit`` or with
the perceptron loss; ``partial_fit`` with ``early_stopping=True`` or
``class_weight="balanced"``; ``learning_rate="optimal"`` with ``alpha=0``.

The data sets are small (220-300 rows, 6-12 features), made with fixed seeds
and standardized, so that the whole panel runs in a few seconds. Most cases
use ``tol=None`` and a few epochs, so that ``n_iter_`` does not depend on a
stopping rule; the ``stop-*`` cases and a few others set ``tol`` (mostly the
default, 1e-4) with a small ``n_iter_no_change``, so that the stopping rule
ends the fit.

Regenerate the fixture (only when a change alters results on purpose, and say
so in the commit message)::

    python tests/panel.py --write
"""

import argparse
import functools
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning

from sklearn_nnopt import (
    SGD,
    Adam,
    AdamW,
    EpsilonInsensitive,
    Huber,
    LinearNNClassifier,
    LinearNNRegressor,
    Quantile,
    RMSprop,
)

FIXTURE = Path(__file__).resolve().parent / "data" / "panel.npz"

# Parameters every case starts from (a case's own parameters override them).
DEFAULTS = {"random_state": 0, "max_iter": 8, "tol": None}


# --------------------------------------------------------------------- data
def _standardize(X):
    return (X - X.mean(axis=0)) / X.std(axis=0)


def _sparsify(X, threshold=1.4):
    """CSR copy of standardized ``X`` keeping the entries above ``threshold``.

    About a sixth of the entries survive, so that batches of 10-20 rows often
    miss a column (the sparse column steps and lazy Adam then differ from the
    dense steps).
    """
    return sp.csr_matrix(np.where(np.abs(X) > threshold, X, 0.0))


@functools.cache
def _base_data(name):
    """``(X, y)`` of the float64 dense data sets, built with fixed seeds.

    All have more than 200 rows, two batches of the automatic size. When a
    batch is the whole data the intercept starts at the loss's best constant
    for that very batch, so its first gradient is rounding noise (for the
    squared error with centered ``X``, on every step), which the adaptive
    optimizers' normalized steps turn into full-size steps: results that any
    reordering of a sum would change. The cases that train on one whole batch
    (L-BFGS, ``batch_size`` above the rows, or a whole ``partial_fit`` chunk)
    use L-BFGS or SGD, which do not normalize the step, or start from
    ``intercept_init``.
    """
    if name == "bin":
        X, y = make_classification(
            n_samples=300,
            n_features=10,
            n_informative=5,
            n_redundant=2,
            flip_y=0.05,
            random_state=0,
        )
    elif name == "multi":
        X, y = make_classification(
            n_samples=240,
            n_features=12,
            n_informative=6,
            n_redundant=2,
            n_classes=3,
            n_clusters_per_class=1,
            flip_y=0.05,
            random_state=1,
        )
    elif name == "imb":  # imbalanced binary, for class_weight="balanced"
        X, y = make_classification(
            n_samples=260,
            n_features=8,
            n_informative=4,
            weights=[0.8],
            flip_y=0.02,
            random_state=2,
        )
    elif name == "reg":
        X, y = make_regression(
            n_samples=250, n_features=10, n_informative=6, noise=10.0, random_state=3
        )
        y = 1.0 + _standardize(y)  # unit variance, non-zero mean
    elif name == "reg2":  # two outputs
        X, y = make_regression(
            n_samples=220,
            n_features=8,
            n_informative=5,
            n_targets=2,
            noise=5.0,
            random_state=4,
        )
        y = _standardize(y) + np.array([0.5, -1.0])
    elif name == "pois":  # non-negative counts
        rng = np.random.default_rng(5)
        X = rng.standard_normal((240, 6))
        w = rng.uniform(-0.4, 0.4, size=6)
        y = rng.poisson(np.exp(0.5 + X @ w)).astype(np.float64)
    else:
        raise ValueError(f"unknown data set {name!r}")
    return _standardize(X), y


def load_data(name):
    """``(X, y)`` for a data set name: a base name with ``_csr`` and/or ``32``.

    ``"bin_csr32"`` is the CSR float32 version of ``"bin"``; the ``_csr``
    versions keep only the larger entries (:func:`_sparsify`). Fresh copies on
    every call.
    """
    base = name.removesuffix("32").removesuffix("_csr")
    X, y = _base_data(base)
    if "_csr" in name:
        X = _sparsify(X)
    else:
        X = X.copy()
    if name.endswith("32"):
        X = X.astype(np.float32)
    return X, y.copy()


def _sample_weight(kind, n):
    """Non-uniform weights with some zeros (``"weights"``) or a zero block."""
    if kind == "weights":
        rng = np.random.default_rng(10)
        sw = rng.uniform(0.2, 3.0, size=n)
        sw[rng.choice(n, size=n // 10, replace=False)] = 0.0
        return sw
    if kind == "zero_block":
        # With shuffle=False and batch_size=16 the first two batches weigh 0.
        sw = np.linspace(0.5, 2.0, n)
        sw[:40] = 0.0
        return sw
    raise ValueError(f"unknown sample_weight kind {kind!r}")


def _init(n_outputs, n_features):
    """Fixed ``coef_init`` and ``intercept_init``."""
    rng = np.random.default_rng(11)
    coef = rng.uniform(-0.5, 0.5, size=(n_outputs, n_features))
    intercept = rng.uniform(-0.5, 0.5, size=n_outputs)
    if n_outputs == 1:
        return coef[0], intercept
    return coef, intercept


# -------------------------------------------------------------------- cases
@dataclass(frozen=True)
class Case:
    """One fit of the panel.

    Attributes
    ----------
    id : str
        Short unique id, the fixture's key prefix.
    estimator : {"clf", "reg"}
    data : str
        Data set name for :func:`load_data`.
    params : dict
        Estimator parameters on top of :data:`DEFAULTS`.
    mode : {"fit", "partial_fit", "warm_start"}
        ``partial_fit``: two passes over three chunks (``classes=`` on every
        call for the classifier); ``warm_start``: ``fit``, then ``set_params(
        **second)`` and ``fit`` again.
    sample_weight : {None, "weights", "zero_block"}
    init : {None, "both", "coef"}
        Pass ``coef_init`` and ``intercept_init`` (``"both"``) or only
        ``coef_init`` to ``fit``.
    second : dict
        Parameters changed before the second fit of ``mode="warm_start"``.
    """

    id: str
    estimator: str
    data: str
    params: dict = field(default_factory=dict)
    mode: str = "fit"
    sample_weight: str | None = None
    init: str | None = None
    second: dict = field(default_factory=dict)


def _c(
    id, estimator, data, *, mode="fit", sample_weight=None, init=None, second=None, **p
):
    """A :class:`Case`; the keyword arguments beyond the named ones are params."""
    return Case(id, estimator, data, p, mode, sample_weight, init, second or {})


def _loss_optimizer_cases():
    """Every loss against two or three optimizers: plain fits, dense float64."""
    grid = [
        # (id prefix, estimator, data, loss, optimizers)
        ("log-bin", "clf", "bin", "log_loss",
         ["sgd", "lbfgs", "newton", "prodigy", "schedulefree_sgd"]),
        ("log-multi", "clf", "multi", "log_loss",
         ["momentum", "rmsprop", "lbfgs", "newton", "schedulefree_adamw"]),
        ("hinge-bin", "clf", "bin", "hinge", ["nesterov", "adagrad"]),
        ("mhuber-bin", "clf", "bin", "modified_huber", ["adam", "lbfgs"]),
        ("mhuber-multi", "clf", "multi", "modified_huber", ["nadam"]),
        ("sqhinge-bin", "clf", "bin", "squared_hinge", ["adamax", "lbfgs", "newton"]),
        ("sqhinge-multi", "clf", "multi", "squared_hinge", ["adagrad"]),
        ("perc-bin", "clf", "bin", "perceptron", ["sgd", "adam"]),
        ("perc-multi", "clf", "multi", "perceptron", ["momentum"]),
        ("sqerr-bin", "clf", "bin", "squared_error", ["amsgrad"]),
        ("sqerr-reg", "reg", "reg", "squared_error",
         ["adadelta", "lbfgs", "schedulefree_sgd", "schedulefree_adamw"]),
        ("huber-reg", "reg", "reg", "huber", ["rmsprop", "lbfgs", "newton", "prodigy"]),
        ("abs-reg", "reg", "reg", "absolute_error", ["adagrad"]),
        ("pois-reg", "reg", "pois", "poisson", ["adam", "nadam", "lbfgs", "newton"]),
        ("quant-reg", "reg", "reg", "quantile", ["amsgrad"]),
        ("eps-reg", "reg", "reg", "epsilon_insensitive", ["adamw", "nesterov"]),
        ("sqeps-reg", "reg", "reg", "squared_epsilon_insensitive", ["adam", "newton"]),
        ("sqerr-reg2", "reg", "reg2", "squared_error", ["adam", "lbfgs"]),
        ("huber-reg2", "reg", "reg2", "huber", ["rmsprop"]),
    ]  # fmt: skip
    return [
        _c(f"{prefix}-{opt}", est, data, loss=loss, optimizer=opt)
        for prefix, est, data, loss, optimizers in grid
        for opt in optimizers
    ]


def _instance_cases():
    """Loss and optimizer instances with non-default parameters."""
    return [
        _c("huber05-reg-sgd", "reg", "reg", loss=Huber(delta=0.5), optimizer="sgd"),
        _c("quant08-reg-adam", "reg", "reg", loss=Quantile(quantile=0.8),
           optimizer="adam"),
        _c("eps02-reg-sgd", "reg", "reg", loss=EpsilonInsensitive(epsilon=0.2),
           optimizer="sgd"),
        _c("sgdm05-bin", "clf", "bin", optimizer=SGD(momentum=0.5)),
        _c("rmsprop-centered-reg", "reg", "reg",
           optimizer=RMSprop(centered=True, momentum=0.5)),
        # AdamW: a numeric step (torch's units) and the automatic one.
        _c("adamw-num-bin", "clf", "bin", optimizer="adamw",
           learning_rate_init=0.003),
        _c("adamw-auto-multi", "clf", "multi", optimizer="adamw"),
        _c("adamw-wd01-reg", "reg", "reg", optimizer=AdamW(weight_decay=0.1)),
    ]  # fmt: skip


def _sparse_cases():
    """CSR ``X``: the column steps (sgd, lazy Adam) and the dense-step paths."""
    return [
        _c("csr-log-sgd", "clf", "bin_csr", optimizer="sgd", batch_size=10),
        _c("csr-log-adam", "clf", "bin_csr", optimizer="adam", batch_size=10),
        _c("csr-log-adam-dense", "clf", "bin_csr", optimizer=Adam(lazy=False),
           batch_size=10),
        _c("csr-hinge-multi-adam-dense", "clf", "multi_csr", loss="hinge",
           optimizer=Adam(lazy=False), batch_size=16),
        _c("csr-hinge-momentum", "clf", "bin_csr", loss="hinge",
           optimizer="momentum", batch_size=20),
        _c("csr-log-lbfgs", "clf", "bin_csr", optimizer="lbfgs"),
        _c("csr-mhuber-multi-adadelta", "clf", "multi_csr", loss="modified_huber",
           optimizer="adadelta", batch_size=16),
        _c("csr-l1-sgd", "clf", "bin_csr", optimizer="sgd", penalty="l1",
           alpha=0.01, batch_size=20),
        _c("csr-l1-adam", "clf", "bin_csr", optimizer="adam", penalty="l1",
           alpha=0.01, batch_size=20),
        _c("csr-avg-rmsprop", "clf", "bin_csr", optimizer="rmsprop", average=True,
           batch_size=20),
        _c("csr-noshuffle-sgd", "clf", "bin_csr", optimizer="sgd", shuffle=False,
           batch_size=10),
        _c("csr-sw-sgd", "clf", "bin_csr", optimizer="sgd", batch_size=10,
           sample_weight="weights"),
        _c("csr-sw-adam", "clf", "bin_csr", optimizer="adam", batch_size=10,
           sample_weight="weights"),
        _c("csr-noint-sgd", "clf", "bin_csr", optimizer="sgd",
           fit_intercept=False, batch_size=10),
        _c("csr-nopen-sgd", "clf", "bin_csr", optimizer="sgd", penalty=None,
           batch_size=10),
        _c("csr-reg-sgd", "reg", "reg_csr", optimizer="sgd", batch_size=10),
        _c("csr-reg-adam", "reg", "reg_csr", loss="huber", optimizer="adam",
           batch_size=10),
        _c("csr-reg-lbfgs", "reg", "reg_csr", optimizer="lbfgs"),
    ]  # fmt: skip


def _float32_cases():
    return [
        _c("f32-log-adam", "clf", "bin32", optimizer="adam"),
        _c("f32-log-multi-nadam", "clf", "multi32", optimizer="nadam",
           batch_size=32),
        _c("f32-l1-adamax", "clf", "bin32", optimizer="adamax", penalty="l1",
           alpha=0.01),
        _c("f32-sw-nesterov", "clf", "bin32", optimizer="nesterov",
           sample_weight="weights"),
        _c("f32-reg-lbfgs", "reg", "reg32", optimizer="lbfgs"),
        _c("f32-csr-adam", "clf", "bin_csr32", optimizer="adam", batch_size=10),
        _c("f32-csr-sgd", "clf", "bin_csr32", optimizer="sgd", batch_size=10),
        _c("f32-csr-prodigy", "clf", "bin_csr32", optimizer="prodigy",
           batch_size=10),
        _c("f32-csr-sfadamw", "clf", "bin_csr32", optimizer="schedulefree_adamw",
           batch_size=10),
        _c("f32-csr-adam-dense", "clf", "bin_csr32", optimizer=Adam(lazy=False),
           batch_size=10),
    ]  # fmt: skip


def _mode_cases():
    """partial_fit, warm_start and early stopping."""
    return [
        # partial_fit: two passes over three chunks.
        _c("pf-log-sgd", "clf", "bin", mode="partial_fit", optimizer="sgd"),
        _c("pf-log-multi-adam", "clf", "multi", mode="partial_fit",
           optimizer="adam", batch_size=32),
        _c("pf-hinge-nadam-sw", "clf", "bin", mode="partial_fit", loss="hinge",
           optimizer="nadam", sample_weight="weights", batch_size=25),
        _c("pf-log-multi-momentum-avg", "clf", "multi", mode="partial_fit",
           optimizer="momentum", average=True),
        _c("pf-log-cwdict-adadelta", "clf", "bin", mode="partial_fit",
           optimizer="adadelta", class_weight={0: 1.0, 1: 2.5}, batch_size=40),
        _c("pf-log-invscaling-sgd", "clf", "bin", mode="partial_fit",
           optimizer="sgd", learning_rate="invscaling", learning_rate_init=0.2,
           power_t=0.25, batch_size=16),
        _c("pf-reg-adagrad", "reg", "reg", mode="partial_fit", optimizer="adagrad",
           batch_size=32),
        _c("pf-log-prodigy-avg", "clf", "bin", mode="partial_fit",
           optimizer="prodigy", average=True, batch_size=32),
        _c("pf-reg-sfsgd", "reg", "reg", mode="partial_fit",
           optimizer="schedulefree_sgd", batch_size=32),
        _c("pf-reg-rmsprop-f32", "reg", "reg32", mode="partial_fit",
           optimizer="rmsprop", batch_size=16),
        _c("pf-reg2-adamw", "reg", "reg2", mode="partial_fit", optimizer="adamw",
           batch_size=32),
        _c("pf-csr-sgd", "clf", "bin_csr", mode="partial_fit", optimizer="sgd",
           batch_size=10),
        _c("pf-csr-adam", "clf", "bin_csr", mode="partial_fit", optimizer="adam",
           batch_size=10),
        # warm_start: two fits, some parameters changed in between.
        _c("ws-log-adam", "clf", "bin", mode="warm_start", optimizer="adam",
           warm_start=True, second={"max_iter": 5}),
        _c("ws-log-sgd-avg", "clf", "bin", mode="warm_start", optimizer="sgd",
           warm_start=True, average=True),
        # (max_iter=4 twice: L-BFGS stops short of the optimum, where with
        # tol=None its iterations would follow rounding noise.)
        _c("ws-reg-lbfgs", "reg", "reg", mode="warm_start", optimizer="lbfgs",
           warm_start=True, max_iter=4),
        _c("ws-csr-reg-nesterov", "reg", "reg_csr", mode="warm_start",
           optimizer="nesterov", warm_start=True, batch_size=25),
        _c("ws-switch-adam-sgd", "clf", "bin", mode="warm_start", optimizer="adam",
           warm_start=True, second={"optimizer": "sgd"}),
        _c("ws-lr-adam", "clf", "multi", mode="warm_start", optimizer="adam",
           warm_start=True, second={"learning_rate_init": 0.001}),
        _c("ws-cosine-adadelta", "reg", "reg", mode="warm_start",
           optimizer="adadelta", learning_rate="cosine", warm_start=True),
        _c("ws-multi-amsgrad-avg10", "clf", "multi", mode="warm_start",
           optimizer="amsgrad", average=10, warm_start=True, batch_size=60),
        # early stopping
        _c("es-log-adam", "clf", "bin", optimizer="adam", early_stopping=True,
           max_iter=10),
        _c("es-log-multi-sgd-tol", "clf", "multi", optimizer="sgd",
           early_stopping=True, tol=1e-4, n_iter_no_change=2, max_iter=30,
           batch_size=32),
        _c("es-reg-adamw", "reg", "reg", optimizer="adamw", early_stopping=True,
           validation_fraction=0.2),
        _c("es-log-nadam-sw", "clf", "bin", optimizer="nadam", early_stopping=True,
           sample_weight="weights"),
        _c("es-log-sgd-avg", "clf", "bin", optimizer="sgd", early_stopping=True,
           average=True, batch_size=32),
        _c("es-csr-adam", "clf", "bin_csr", optimizer="adam", early_stopping=True,
           batch_size=10),
        _c("es-reg-adaptive-rmsprop", "reg", "reg", optimizer="rmsprop",
           early_stopping=True, learning_rate="adaptive", tol=1e-4,
           n_iter_no_change=2, max_iter=40),
        # L-BFGS ignores early stopping, averaging and the schedule: pinned too.
        _c("es-log-lbfgs", "clf", "bin", optimizer="lbfgs", early_stopping=True),
        _c("avg-log-lbfgs", "clf", "bin", optimizer="lbfgs", average=True),
        _c("cosine-log-lbfgs", "clf", "bin", optimizer="lbfgs",
           learning_rate="cosine"),
    ]  # fmt: skip


def _option_cases():
    """Averaging, penalties, fit options, schedules, steps and batches."""
    return [
        # averaging
        _c("avg-log-sgd", "clf", "bin", optimizer="sgd", average=True,
           batch_size=32),
        _c("avg-reg-adam", "reg", "reg", optimizer="adam", average=True,
           batch_size=32),
        _c("avg10-log-multi-momentum", "clf", "multi", optimizer="momentum",
           average=10, batch_size=32),
        _c("avg10-noint-sgd", "clf", "bin", optimizer="sgd", average=10,
           fit_intercept=False, batch_size=32),
        # l1 and elasticnet (stochastic optimizers only)
        _c("l1-log-sgd", "clf", "bin", optimizer="sgd", penalty="l1", alpha=0.02),
        _c("l1-log-adam", "clf", "bin", optimizer="adam", penalty="l1", alpha=0.02),
        _c("l1-reg-momentum", "reg", "reg", optimizer="momentum", penalty="l1",
           alpha=0.05, batch_size=32),
        _c("l1-reg-rmsprop", "reg", "reg", optimizer="rmsprop", penalty="l1",
           alpha=0.05),
        _c("l1-multi-adagrad", "clf", "multi", optimizer="adagrad", penalty="l1",
           alpha=0.02),
        _c("l1-hinge-nadam", "clf", "bin", loss="hinge", optimizer="nadam",
           penalty="l1", alpha=0.02),
        _c("en-reg-sgd", "reg", "reg", optimizer="sgd", penalty="elasticnet",
           alpha=0.05, l1_ratio=0.5),
        _c("en-multi-nesterov", "clf", "multi", optimizer="nesterov",
           penalty="elasticnet", alpha=0.02, l1_ratio=0.5, batch_size=32),
        _c("en-reg-adamw", "reg", "reg", optimizer="adamw", penalty="elasticnet",
           alpha=0.05, l1_ratio=0.7),
        _c("en-log-adamax", "clf", "bin", optimizer="adamax", penalty="elasticnet",
           alpha=0.02, l1_ratio=0.5),
        # no penalty, no intercept
        _c("nopen-log-lbfgs", "clf", "bin", optimizer="lbfgs", penalty=None),
        _c("noint-reg-lbfgs", "reg", "reg", optimizer="lbfgs", fit_intercept=False),
        # sample weights (non-uniform, some zeros) and class weights
        _c("sw-log-sgd", "clf", "bin", optimizer="sgd", sample_weight="weights"),
        _c("sw-log-lbfgs", "clf", "bin", optimizer="lbfgs", sample_weight="weights"),
        _c("sw-reg-huber-lbfgs", "reg", "reg", loss="huber", optimizer="lbfgs",
           sample_weight="weights"),
        _c("sw-zeroblock-sgd", "clf", "bin", optimizer="sgd",
           sample_weight="zero_block", shuffle=False, batch_size=16),
        _c("sw-zeroblock-momentum", "reg", "reg", optimizer="momentum",
           sample_weight="zero_block", shuffle=False, batch_size=16),
        _c("cw-log-adam", "clf", "imb", optimizer="adam", class_weight="balanced"),
        _c("cw-log-lbfgs", "clf", "imb", optimizer="lbfgs", class_weight="balanced"),
        _c("cw-sw-adamax", "clf", "imb", optimizer="adamax", class_weight="balanced",
           sample_weight="weights"),
        # coef_init / intercept_init
        _c("init-log-adam", "clf", "bin", optimizer="adam", init="both"),
        _c("init-reg-sgd", "reg", "reg", optimizer="sgd", init="both"),
        _c("init-multi-lbfgs", "clf", "multi", optimizer="lbfgs", init="both"),
        _c("init-reg2-adam", "reg", "reg2", optimizer="adam", init="both"),
        _c("initcoef-log-sgd", "clf", "bin", optimizer="sgd", init="coef"),
        # schedules ("constant", the default, runs in most other cases)
        _c("constant-log-sgd", "clf", "bin", optimizer="sgd",
           learning_rate="constant", learning_rate_init=0.05, batch_size=32),
        _c("invscaling-log-sgd", "clf", "bin", optimizer="sgd",
           learning_rate="invscaling", learning_rate_init=0.5, batch_size=32),
        _c("invscaling-reg-adam", "reg", "reg", optimizer="adam",
           learning_rate="invscaling"),
        _c("optimal-hinge-sgd", "clf", "bin", loss="hinge", optimizer="sgd",
           learning_rate="optimal", alpha=1e-3, batch_size=32),
        _c("optimal-log-multi-sgd", "clf", "multi", optimizer="sgd",
           learning_rate="optimal", alpha=1e-3),
        _c("adaptive-log-sgd-tol", "clf", "bin", optimizer="sgd",
           learning_rate="adaptive", learning_rate_init=0.5, tol=1e-4,
           n_iter_no_change=2, max_iter=40, batch_size=32),
        _c("adaptive-reg-adam", "reg", "reg", optimizer="adam",
           learning_rate="adaptive", n_iter_no_change=2, max_iter=12),
        _c("cosine-log-sgd", "clf", "bin", optimizer="sgd", learning_rate="cosine",
           learning_rate_init=0.1, batch_size=32),
        _c("cosine-reg-adamw", "reg", "reg", optimizer="adamw",
           learning_rate="cosine"),
        _c("cosine-multi-rmsprop", "clf", "multi", optimizer="rmsprop",
           learning_rate="cosine", batch_size=40),
        # numeric learning_rate_init
        _c("lr-reg-sgd", "reg", "reg", optimizer="sgd", learning_rate_init=0.01),
        _c("lr-log-adam", "clf", "bin", optimizer="adam", learning_rate_init=0.02),
        _c("lr-reg-adadelta", "reg", "reg", optimizer="adadelta",
           learning_rate_init=1.0),
        # shuffle=False and batch sizes
        _c("noshuffle-log-sgd", "clf", "bin", optimizer="sgd", shuffle=False,
           batch_size=32),
        _c("bs1-reg-sgd", "reg", "reg", optimizer="sgd", batch_size=1, max_iter=3),
        _c("bs7-log-adam", "clf", "bin", optimizer="adam", batch_size=7,
           max_iter=4),
        _c("fullbatch-log-sgd", "clf", "bin", optimizer="sgd", batch_size=400),
        _c("fullbatch-multi-adam-init", "clf", "multi", optimizer="adam",
           batch_size=400, init="both"),
        # the default tol with a small patience: the stopping rule ends the fit
        _c("stop-log-sgd", "clf", "bin", optimizer="sgd", tol=1e-4,
           n_iter_no_change=2, max_iter=50, batch_size=32),
        _c("stop-reg-adam", "reg", "reg", optimizer="adam", tol=1e-3,
           n_iter_no_change=3, max_iter=60),
        _c("stop-hinge-nesterov", "clf", "bin", loss="hinge", optimizer="nesterov",
           tol=1e-3, n_iter_no_change=2, max_iter=50),
        _c("stop-log-lbfgs", "clf", "multi", optimizer="lbfgs", tol=1e-4,
           max_iter=100),
        _c("stop-perc-sgd", "clf", "bin", loss="perceptron", optimizer="sgd",
           tol=1e-4, n_iter_no_change=2, max_iter=50),
    ]  # fmt: skip


def _all_cases():
    return [
        *_loss_optimizer_cases(),
        *_instance_cases(),
        *_sparse_cases(),
        *_float32_cases(),
        *_mode_cases(),
        *_option_cases(),
    ]


CASES = _all_cases()
CASE_IDS = [case.id for case in CASES]
CASES_BY_ID = {case.id: case for case in CASES}


# ------------------------------------------------------------------- runner
def run_case(case):
    """Train ``case`` and return its fitted arrays by attribute name.

    Returns
    -------
    dict of str to ndarray
        ``coef_``, ``intercept_``, ``n_iter_``, ``t_``, ``loss_curve_`` and,
        when the model has it, ``validation_scores_``.
    """
    X, y = load_data(case.data)
    cls = LinearNNClassifier if case.estimator == "clf" else LinearNNRegressor
    est = cls(**{**DEFAULTS, **case.params})
    sw = None
    if case.sample_weight is not None:
        sw = _sample_weight(case.sample_weight, X.shape[0])
    fit_kwargs = {"sample_weight": sw}
    if case.init is not None:
        if case.estimator == "reg":
            n_outputs = 1 if y.ndim == 1 else y.shape[1]
        else:
            n_classes = len(np.unique(y))
            n_outputs = 1 if n_classes == 2 else n_classes
        coef, intercept = _init(n_outputs, X.shape[1])
        fit_kwargs["coef_init"] = coef
        if case.init == "both":
            fit_kwargs["intercept_init"] = intercept
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if case.mode == "fit":
            est.fit(X, y, **fit_kwargs)
        elif case.mode == "warm_start":
            est.fit(X, y, **fit_kwargs)
            est.set_params(**case.second)
            est.fit(X, y, sample_weight=sw)
        elif case.mode == "partial_fit":
            extra = {"classes": np.unique(y)} if case.estimator == "clf" else {}
            chunks = np.array_split(np.arange(X.shape[0]), 3)
            for _ in range(2):
                for rows in chunks:
                    est.partial_fit(
                        X[rows],
                        y[rows],
                        sample_weight=None if sw is None else sw[rows],
                        **extra,
                    )
        else:
            raise ValueError(f"unknown mode {case.mode!r}")
    result = {
        "coef_": np.array(est.coef_, copy=True),
        "intercept_": np.array(est.intercept_, copy=True),
        "n_iter_": np.array(est.n_iter_),
        "t_": np.array(est.t_),
        "loss_curve_": np.array(est.loss_curve_, dtype=np.float64),
    }
    if hasattr(est, "validation_scores_"):
        result["validation_scores_"] = np.array(
            est.validation_scores_, dtype=np.float64
        )
    return result


def run_panel(cases=None):
    """``{f"{case.id}/{name}": array}`` for every case (the fixture's layout)."""
    arrays = {}
    for case in CASES if cases is None else cases:
        for name, value in run_case(case).items():
            arrays[f"{case.id}/{name}"] = value
    return arrays


def write_npz(path, arrays):
    """``np.savez_compressed`` with fixed timestamps, in the given key order.

    An unchanged panel then rewrites a byte-identical file (no spurious diff).
    """
    with zipfile.ZipFile(path, "w") as archive:
        for key, value in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w") as file:
                np.lib.format.write_array(file, np.asanyarray(value))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write", action="store_true", help=f"run the panel and write {FIXTURE}"
    )
    parser.add_argument("--list", action="store_true", help="list the case ids")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(CASE_IDS))
    if args.write:
        start = time.perf_counter()
        arrays = run_panel()
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        write_npz(FIXTURE, arrays)
        print(
            f"wrote {len(CASES)} cases ({len(arrays)} arrays, "
            f"{FIXTURE.stat().st_size} bytes) to {FIXTURE} in "
            f"{time.perf_counter() - start:.1f} s"
        )
    if not (args.list or args.write):
        parser.print_help()


if __name__ == "__main__":
    main()
