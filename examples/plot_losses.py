"""
The losses, side by side
========================

Every loss of :mod:`sklearn_nnopt.losses` is a small class whose
``loss_gradient(y_true, raw_prediction)`` returns the per-sample loss and its
derivative with respect to the raw prediction ``z``. This example calls that
method on a grid of values, so the curves below are the library's own code:

* the classification losses against the **margin** :math:`m = t z`, with
  :math:`t = \\pm 1` the one-vs-rest target (the log loss and the squared error
  are written in the same margin variable);
* the regression losses against the **residual** :math:`r = y - z`.

The lower row shows the derivative :math:`\\partial \\ell / \\partial z` that
the optimizers see, for :math:`t = +1` (classification) and as a function of
the residual (regression).
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes

from sklearn_nnopt import (
    AbsoluteError,
    EpsilonInsensitive,
    Hinge,
    Huber,
    LogLoss,
    ModifiedHuber,
    Perceptron,
    Poisson,
    Quantile,
    SquaredEpsilonInsensitive,
    SquaredError,
    SquaredHinge,
)

# %%
# Classification: loss against the margin
# ----------------------------------------
#
# A classifier encodes the positive class as :math:`t = +1` for the margin
# losses and the squared error, and as :math:`y = 1` for the log loss
# (``classification_target`` says which). With that target, a raw prediction
# ``z`` *is* the margin :math:`m = t z`.

margin = np.linspace(-3, 3, 601)
classification = {
    "log_loss": LogLoss(),
    "hinge": Hinge(),
    "squared_hinge": SquaredHinge(),
    "modified_huber": ModifiedHuber(),
    "perceptron": Perceptron(),
    "squared_error": SquaredError(),
}


def curve(loss, y, z):
    """The loss and its derivative for targets ``y`` at raw predictions ``z``."""
    y_true = np.full((len(z), 1), y, dtype=float)
    value, grad = loss.loss_gradient(y_true, z.reshape(-1, 1).astype(float))
    return value, grad[:, 0]


# The positive class is 1 in both encodings.
cls_curves = {name: curve(loss, 1.0, margin) for name, loss in classification.items()}

# %%
# Regression: loss against the residual
# -------------------------------------
#
# A residual loss is a function of :math:`r = y - z` alone; ``y = 0`` and
# ``z = -r`` trace it. The Poisson loss :math:`e^z - y z` is not: it is drawn
# for ``y = 1`` against the residual in link space, :math:`r = \log y - z`, and
# shifted by its minimum so that it is 0 at :math:`r = 0` like the others.

residual = np.linspace(-3, 3, 601)
regression = {
    "squared_error": SquaredError(),
    "absolute_error": AbsoluteError(),
    "huber (delta=1.5)": Huber(delta=1.5),
    "epsilon_insensitive (eps=0.5)": EpsilonInsensitive(epsilon=0.5),
    "squared_epsilon_insensitive (eps=0.5)": SquaredEpsilonInsensitive(epsilon=0.5),
    "quantile (q=0.9)": Quantile(quantile=0.9),
}
reg_curves = {name: curve(loss, 0.0, -residual) for name, loss in regression.items()}
value, grad = curve(Poisson(), 1.0, -residual)
reg_curves["poisson (y=1)"] = (value - value.min(), grad)

# %%
# The figure
# ----------

fig, axes = plt.subplots(2, 2, figsize=(11, 9.5), sharex="col", layout="constrained")
# Some curves coincide in part (squared_hinge and modified_huber for m >= -1):
# alternating dashes keep both visible.
zero_one = (margin <= 0).astype(float)
axes[0, 0].plot(margin, zero_one, color="0.6", lw=3, alpha=0.5, label="0-1 loss")
for i, (name, (value, grad)) in enumerate(cls_curves.items()):
    ls = "--" if i % 2 else "-"
    axes[0, 0].plot(margin, value, ls, label=name)
    axes[1, 0].plot(margin, grad, ls, label=name)
for i, (name, (value, grad)) in enumerate(reg_curves.items()):
    ls = "--" if i % 2 else "-"
    axes[0, 1].plot(residual, value, ls, label=name)
    axes[1, 1].plot(residual, grad, ls, label=name)

axes[0, 0].set(ylim=(-0.1, 5), ylabel="loss", title="classification")
axes[1, 0].set(ylim=(-4.5, 2.5), xlabel="margin  m = t z", ylabel="dloss / dz (t = +1)")
axes[0, 1].set(ylim=(-0.1, 4.5), title="regression")
axes[1, 1].set(ylim=(-3.5, 3.5), xlabel="residual  r = y - z", ylabel="dloss / dz")
for ax in axes.ravel():
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(0, color="k", lw=0.5)
    ax.grid(alpha=0.3)
for col in (0, 1):
    handles, labels = axes[0, col].get_legend_handles_labels()
    axes[1, col].legend(
        handles,
        labels,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
        ncol=2,
        fontsize=9,
    )
plt.show()

# %%
# Where training starts: each loss's best constant
# ------------------------------------------------
#
# ``baseline(y)`` is the constant raw prediction the intercept starts from (the
# coefficients start at 0), so an unscaled target needs no rescaling. On
# ``load_diabetes``, whose target is around 150:

_, y = load_diabetes(return_X_y=True)
Y = y.reshape(-1, 1)
print(f"mean(y) = {y.mean():.2f}, median(y) = {np.median(y):.2f}")
for loss in [
    SquaredError(),
    AbsoluteError(),
    Huber(),
    EpsilonInsensitive(),
    Quantile(quantile=0.9),
    Poisson(),
]:
    start = float(loss.baseline(Y)[0])
    shown = f"{start:8.3f}"
    if isinstance(loss, Poisson):
        shown += f"  (exp: {np.exp(start):.2f})"
    print(f"{type(loss).__name__:<20} {loss.get_params()!s:<20} starts at {shown}")
