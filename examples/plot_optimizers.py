"""
Every optimizer on the same problems
====================================

Each optimizer minimizes the same training objective; this example draws the
objective per epoch, ``loss_curve_``, for every registered optimizer name, each
with its automatic step size (``learning_rate_init="auto"``) and the default
constant schedule, on two problems:

* ``load_breast_cancer``, standardized, with the log loss;
* ``load_diabetes``, standardized ``X`` and the *unscaled* target (around 150),
  with the squared error.

The curves show the gap to the minimum of the objective, which
``optimizer="lbfgs"`` finds to high accuracy. A stochastic optimizer's epoch
objective is accumulated over the epoch's minibatches (200 samples) while the
coefficients move, so near the minimum it is noisy, and it can even dip below
the minimum by a hair: such points are left out of the log scale.
"""

import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.preprocessing import StandardScaler

from sklearn_nnopt import LinearNNClassifier, LinearNNRegressor

N_EPOCHS = 200
# Every built-in optimizer name (OPTIMIZERS.names() would also list any that
# user code registered) but the schedule-free ones, whose loss_curve_ is the
# objective at the points y where they take their gradients, not at the model
# they expose (the average x): their curves would not compare.
NAMES = [
    "sgd",
    "momentum",
    "nesterov",
    "adam",
    "amsgrad",
    "adamw",
    "nadam",
    "adamax",
    "rmsprop",
    "adagrad",
    "adadelta",
    "lbfgs",
]


def run(make, X, y):
    """Fit every optimizer; return the curves of the gap to the minimum."""
    # L-BFGS to a tight gradient tolerance finds the minimum (and is the
    # L-BFGS curve).
    start = time.perf_counter()
    reference = make(optimizer="lbfgs", tol=1e-10, max_iter=10_000).fit(X, y)
    lbfgs_seconds = time.perf_counter() - start
    best = reference.best_loss_
    curves = {}
    print(f"{'optimizer':<10} {'auto step':>10} {'last gap':>10} {'seconds':>8}")
    for name in NAMES[:-1]:
        est = make(optimizer=name, tol=None, max_iter=N_EPOCHS, random_state=0)
        start = time.perf_counter()
        est.fit(X, y)
        seconds = time.perf_counter() - start
        curves[name] = np.asarray(est.loss_curve_) - best
        step = est.learning_rate_init_
        print(f"{name:<10} {step:10.3g} {curves[name][-1]:10.2e} {seconds:8.2f}")
    curves["lbfgs"] = np.asarray(reference.loss_curve_) - best
    print(f"{'lbfgs':<10} {'(search)':>10} {curves['lbfgs'][-1]:10.2e} ", end="")
    print(f"{lbfgs_seconds:8.2f}  ({reference.n_iter_} iterations)")
    print(f"minimum of the objective: {best:.6g}")
    return curves


# %%
# Log loss on breast cancer
# -------------------------
#
# The automatic steps: ``1 / L`` for plain SGD (``L`` the curvature bound of the
# objective), ``(1 - 0.9) / L`` with momentum, ``0.01`` for the Adam family on
# standardized data with a classification loss, ``0.1`` for Adagrad and ``1``
# for Adadelta.

X, y = load_breast_cancer(return_X_y=True)
X = StandardScaler().fit_transform(X)
cancer = run(LinearNNClassifier, X, y)

# %%
# Squared error on diabetes, unscaled target
# ------------------------------------------
#
# The same rules give steps in the units of ``y``: the Adam family's automatic
# step is ``0.01`` times the standard deviation of ``y`` (77) over the size of
# an entry of ``X`` (1 after scaling).

X, y = load_diabetes(return_X_y=True)
X = StandardScaler().fit_transform(X)
diabetes = run(LinearNNRegressor, X, y)

# %%
# The curves
# ----------

fig, axes = plt.subplots(1, 2, figsize=(12, 5.5), layout="constrained")
# One line style per family: SGD, Adam-like, other adaptive methods.
style = dict.fromkeys(["sgd", "momentum", "nesterov"], "-")
style |= dict.fromkeys(["adam", "amsgrad", "adamw", "nadam", "adamax"], "--")
style |= dict.fromkeys(["rmsprop", "adagrad", "adadelta"], ":")
for ax, curves, title in [
    (axes[0], cancer, "breast_cancer, log_loss"),
    (axes[1], diabetes, "diabetes (unscaled y), squared_error"),
]:
    stochastic = np.concatenate([c for n, c in curves.items() if n != "lbfgs"])
    for i, (name, curve) in enumerate(curves.items()):
        epochs = np.arange(1, len(curve) + 1)
        shown = np.where(curve > 0, curve, np.nan)
        if name == "lbfgs":
            ax.semilogy(epochs, shown, "-", color="k", lw=2.5, label=name)
        else:
            color = plt.cm.tab10(i % 10)
            ax.semilogy(epochs, shown, style[name], color=color, lw=1.5, label=name)
    # L-BFGS leaves the stochastic optimizers' range: zoom on theirs.
    ax.set_ylim(stochastic[stochastic > 0].min() / 3, stochastic.max() * 2)
    ax.set(
        title=title,
        xlabel="epoch (L-BFGS: iteration)",
        ylabel="training objective - minimum",
    )
    ax.grid(alpha=0.3, which="both")
axes[1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5))
plt.show()

# %%
# What the curves say
# -------------------
#
# * On the log loss the minimum has large coefficients (the classes are almost
#   separable and ``alpha`` is small), so every stochastic optimizer is still
#   creeping towards it after 200 epochs; RMSprop is the fastest here and
#   Adamax the slowest, and the three SGD variants, at their largest stable
#   step, move together.
# * On the squared error every stochastic optimizer reaches, within 25 to 50
#   epochs, the noise floor of a constant step on 200-sample minibatches (a gap
#   of about 10 on an objective of 1430, under 1%). A decaying ``learning_rate``
#   schedule or ``average=True`` lowers that floor. Adadelta, whose own steps
#   start near :math:`\sqrt{\epsilon}`, is the slowest to get there.
# * L-BFGS sees all the data at every iteration and reaches the minimum to
#   machine precision in a few dozen iterations: on small data that fits in
#   memory it is the optimizer to beat.
