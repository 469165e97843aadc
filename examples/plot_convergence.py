"""
How fit converges
=================

Does ``fit`` reach the minimum of the documented objective, and does it say so
when it does not? This example measures it on two bundled datasets taken raw,
without a scaler: ``load_breast_cancer`` (columns from 1e-3 to 4e3) with the
log loss, and ``load_diabetes`` with a calendar-year-like offset added to one
column (``+ 2000``) with the squared error.

For each fit it records the objective :math:`J` of the training data at the
end, against :math:`J^*` from a tight L-BFGS fit, as the relative gap
:math:`(J - J^*) / J^*`, and whether a ``ConvergenceWarning`` was raised. Five
settings are compared:

* the previous defaults (Adam at a constant step, raw coordinates);
* the defaults: ``optimizer="auto"`` (Newton on these small problems) with
  ``precondition=True`` (centered, unit-spread coordinates);
* ``optimizer="lbfgs"`` with the other defaults;
* Adam and SGD with the default ``learning_rate="auto"`` (Pflug's test decays
  the step when the iterates bounce in the noise) and ``precondition=True``.

Every fit ends with a first-order check: the largest entry of the gradient
must be at most ``sqrt(tol)`` times its size at the default start (``max(tol,
1e-6)`` for Newton and L-BFGS), or a
``ConvergenceWarning`` says how far the fit is.
"""

import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.exceptions import ConvergenceWarning

from sklearn_nnopt import LinearNNClassifier, LinearNNRegressor
from sklearn_nnopt._objective import Objective

# %%
# The two problems, raw, and the objective of a fitted model.

X_bc, y_bc = load_breast_cancer(return_X_y=True)
X_db, y_db = load_diabetes(return_X_y=True)
X_db = X_db.copy()
X_db[:, 0] += 2000.0  # an offset such as a calendar year

problems = {
    "breast_cancer (raw)": (LinearNNClassifier, X_bc, y_bc),
    "diabetes (+2000 offset)": (LinearNNRegressor, X_db, y_db),
}


def objective_value(est, X, y):
    """J of the documented objective at the fitted coefficients."""
    W = np.atleast_2d(est.coef_)
    b = np.atleast_1d(est.intercept_)
    if isinstance(est, LinearNNClassifier):
        Y = (y == est.classes_[1]).astype(float)[:, None]
    else:
        Y = y[:, None].astype(float)
    objective = Objective(est.loss_function_, est.alpha, est.penalty, 0.0, True)
    return objective.value_grad(X, np.asfortranarray(Y), None, W, b)[0]


settings = {
    "previous defaults": {
        "optimizer": "adam",
        "learning_rate": "constant",
        "precondition": False,
    },
    "defaults (auto)": {},
    "lbfgs": {"optimizer": "lbfgs"},
    "adam": {"optimizer": "adam"},
    "sgd": {"optimizer": "sgd"},
}

# %%
# Fit each setting, record the gap, the epochs and the warnings.

results = {}
for name, (cls, X, y) in problems.items():
    best = cls(optimizer="newton", tol=1e-10, max_iter=100)
    j_star = objective_value(best.fit(X, y), X, y)
    for label, params in settings.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            est = cls(random_state=0, **params).fit(X, y)
        gap = (objective_value(est, X, y) - j_star) / j_star
        warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
        results[name, label] = (max(gap, 1e-16), est.n_iter_, warned)
        print(
            f"{name:24s} {label:30s} gap {gap:9.2e}  n_iter {est.n_iter_:4d}  "
            f"{'ConvergenceWarning' if warned else 'converged'}"
        )

# %%
# The gaps on a log scale; hatched bars warned. The previous defaults either
# stalled away from the optimum or warned; the defaults reach it.

fig, axes = plt.subplots(1, len(problems), figsize=(10, 3.8), sharey=True)
labels = list(settings)
for ax, name in zip(axes, problems, strict=True):
    gaps = [results[name, label][0] for label in labels]
    bars = ax.barh(labels, gaps, color=["0.6", "C0", "C1", "C2", "C3"])
    for bar, label in zip(bars, labels, strict=True):
        if results[name, label][2]:
            bar.set_hatch("//")
    ax.set_xscale("log")
    ax.axvline(1e-3, color="k", lw=0.8, ls="--")
    ax.set_title(name)
    ax.set_xlabel("relative objective gap (J - J*) / J*")
axes[0].invert_yaxis()
fig.suptitle("Gap to the optimum at the end of fit (hatched: ConvergenceWarning)")
fig.tight_layout()
plt.show()

# %%
# The gap against time
# --------------------
# How fast each optimizer gets there: the same fits stopped after 1, 2, 4,
# ... iterations (epochs for the stochastic ones; ``tol=None`` runs exactly
# that many), each timed from scratch. Newton reaches machine precision in a
# few iterations on these small problems; L-BFGS gets there more slowly on
# the raw, badly conditioned breast-cancer data; Adam and SGD at one minibatch
# per epoch (small data) creep.

curves = {"newton": 6, "lbfgs": 9, "adam": 9, "sgd": 9}
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for ax, (name, (cls, X, y)) in zip(axes, problems.items(), strict=True):
    best = cls(optimizer="newton", tol=1e-10, max_iter=100)
    j_star = objective_value(best.fit(X, y), X, y)
    for optimizer, n_points in curves.items():
        times, gaps = [], []
        for k in range(n_points):
            est = cls(optimizer=optimizer, max_iter=2**k, tol=None, random_state=0)
            start = time.perf_counter()
            est.fit(X, y)
            times.append(time.perf_counter() - start)
            gap = (objective_value(est, X, y) - j_star) / j_star
            gaps.append(max(gap, 1e-16))
        ax.loglog(times, gaps, "o-", label=optimizer)
    ax.axhline(1e-3, color="k", lw=0.8, ls="--")
    ax.set_title(name)
    ax.xaxis.set_minor_formatter(NullFormatter())  # no crowded minor labels
    ax.set_xlabel("fit time (s)")
    ax.set_ylabel("relative objective gap")
axes[0].legend()
fig.suptitle("Gap to the optimum against fit time (1, 2, 4, ... iterations)")
fig.tight_layout()
plt.show()

# %%
# What ``optimizer="auto"`` picks
# -------------------------------
#
# ========================================================  =================
# situation                                                 runs
# ========================================================  =================
# ``fit``, smooth loss, ``l2`` or no penalty, one Hessian   ``newton``
# of at most 1e7 multiply-adds
# the same, larger                                          ``lbfgs``
# ``partial_fit``                                           ``sgd``
# non-smooth loss, ``l1``/``elasticnet``,                   ``adam``
# ``early_stopping``, ``average``, a ``batch_size`` or a
# learning rate given
# ========================================================  =================
#
# ``optimizer_`` shows what ran. The size limit is measured by
# ``benchmarks/auto_crossover.py``: above it L-BFGS reached the same optimum
# faster than Newton on every problem measured.
