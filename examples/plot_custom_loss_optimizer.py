"""
Writing your own loss and optimizer
===================================

A loss is a :class:`~sklearn_nnopt.losses.Loss` subclass with one method,
``loss_gradient``, and a class attribute ``tasks``; an optimizer is an
:class:`~sklearn_nnopt.optimizers.Optimizer` subclass with ``_update`` and
``auto_learning_rate``. Registering a class with ``LOSSES.register("name")``
or ``OPTIMIZERS.register("name")`` makes its name valid for ``loss=`` and
``optimizer=``; an instance works without registering.

This example adds the **log-cosh** loss, a smooth robust regression loss, and
the **Lion** optimizer (Chen et al., 2023, "Symbolic Discovery of Optimization
Algorithms"), then uses both like the built-in ones, in ``GridSearchCV`` too.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.preprocessing import StandardScaler

from sklearn_nnopt import (
    LOSSES,
    OPTIMIZERS,
    LinearNNClassifier,
    LinearNNRegressor,
    Loss,
    Optimizer,
)
from sklearn_nnopt.optimizers import StepSize

# %%
# A loss
# ------
#
# :math:`\ell(y, z) = \log\cosh(y - z)` is about :math:`r^2 / 2` for small
# residuals and :math:`|r| - \log 2` for large ones, like the Huber loss but
# smooth everywhere; its derivative is :math:`-\tanh(y - z)`.
#
# ``loss_gradient`` gets 2-D arrays of shape ``(n_samples, n_outputs)`` and
# returns the per-sample loss (summed over outputs) and the gradient with
# respect to the raw prediction. ``curvature`` bounds the second derivative
# (it sets SGD's automatic step). Two optional methods matter for regression:
# ``baseline``, the constant the intercept starts from (the base class returns
# 0, far from a target around 150), and ``target_scale``, the typical size of
# ``y``, which sets the automatic step of the adaptive optimizers (the base
# class returns 1).


@LOSSES.register("log_cosh")
class LogCosh(Loss):
    """log(cosh(y - z)): quadratic near 0, linear for large residuals."""

    tasks = frozenset({"regression"})
    curvature = 1.0  # max of 1 - tanh(r)**2

    def loss_gradient(self, y_true, raw_prediction):
        r = y_true - raw_prediction
        loss = np.logaddexp(r, -r) - np.log(2.0)  # log cosh r, no overflow
        return loss.sum(axis=1), -np.tanh(r)

    def baseline(self, y_true, sample_weight=None):
        # The median: the best constant of a robust loss, near enough.
        median = np.quantile(
            y_true, 0.5, axis=0, weights=sample_weight, method="inverted_cdf"
        )
        return np.asarray(median, dtype=y_true.dtype)

    def target_scale(self, y_true, sample_weight=None):
        return float(np.sqrt(np.cov(y_true[:, 0], aweights=sample_weight))) or 1.0


# %%
# An optimizer
# ------------
#
# Lion keeps one momentum buffer and moves every coordinate by exactly ``lr``,
# in the direction of the sign of an interpolation between the buffer and the
# gradient:
#
# .. math::
#     \theta_t = \theta_{t-1} - \eta_t \operatorname{sign}(\beta_1 m_{t-1}
#     + (1 - \beta_1) g_t), \qquad m_t = \beta_2 m_{t-1} + (1 - \beta_2) g_t
#
# ``_update(params, grads, lr, state)`` updates the arrays of ``params``
# (``[coef, intercept]``) in place. Its buffers live in ``state`` (the
# optimizer's one :class:`~sklearn_nnopt.optimizers.OptimizerState`):
# ``state.buffers("exp_avg", params)`` creates them on the first step, so
# ``clone`` gives a fresh optimizer and ``warm_start``/``partial_fit``
# continue it. The step count ``state.step`` (``self.t_``) is kept by the base
# class. Hyperparameters are ``__init__`` arguments stored unchanged, as for
# any scikit-learn estimator, so they are searchable as ``optimizer__beta_1``.
# Lion's step is in parameter units, like Adam's, so its automatic step is a
# fraction of the typical coefficient size that
# :class:`~sklearn_nnopt.optimizers.ProblemScale` provides (returned as the
# step's unit); its authors advise a step 3 to 10 times smaller than Adam's.
# The returned :class:`~sklearn_nnopt.optimizers.StepSize` tells the l1
# proximal step how far each coefficient's gradient moved it: ``lr`` here.


@OPTIMIZERS.register("lion")
class Lion(Optimizer):
    """Lion: sign of an interpolated momentum, one buffer."""

    def __init__(self, beta_1=0.9, beta_2=0.99):
        self.beta_1 = beta_1
        self.beta_2 = beta_2

    def auto_learning_rate(self, scale):
        return 0.003 * scale.param_scale, scale.param_scale

    def _update(self, params, grads, lr, state):
        buffers = state.buffers("exp_avg", params)
        for p, g, m in zip(params, grads, buffers, strict=True):
            p -= lr * np.sign(self.beta_1 * m + (1 - self.beta_1) * g)
            m *= self.beta_2
            m += (1 - self.beta_2) * g
        return StepSize(lr)


# %%
# Using them
# ----------
#
# By name once registered, or as an instance. On the diabetes data with 5% of
# the training targets corrupted (+1000), the robust losses keep most of their
# test score while the squared error loses it all. (With residuals in the tens,
# the Huber loss with ``delta=1`` and log-cosh both act like the absolute error
# here.)

X, y = load_diabetes(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
rng = np.random.default_rng(0)
corrupted = y_train.copy()
corrupted[rng.choice(len(y_train), size=len(y_train) // 20, replace=False)] += 1000

for loss in ["squared_error", "huber", "log_cosh", LogCosh()]:
    reg = LinearNNRegressor(loss=loss, random_state=0).fit(X_train, corrupted)
    print(f"loss={loss!r:<16} test R^2 {reg.score(X_test, y_test):6.3f}")

# %%
# The classifier with Lion, next to Adam, on breast cancer; ``loss_curve_`` is
# the training objective per epoch.

Xc, yc = load_breast_cancer(return_X_y=True)
Xc = StandardScaler().fit_transform(Xc)
fits = {}
for optimizer in ["adam", "lion", Lion(beta_1=0.95, beta_2=0.98)]:
    clf = LinearNNClassifier(
        optimizer=optimizer, tol=None, max_iter=100, random_state=0
    )
    fits[repr(optimizer)] = clf.fit(Xc, yc)
    print(
        f"optimizer={optimizer!r:<32} step {clf.learning_rate_init_:.4f}, "
        f"training accuracy {clf.score(Xc, yc):.3f}"
    )

# %%
# And in a search: the instance's own parameters are nested parameters.

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    search = GridSearchCV(
        LinearNNClassifier(optimizer=Lion(), random_state=0),
        {"optimizer__beta_1": [0.8, 0.9, 0.95], "learning_rate_init": [0.001, 0.003]},
        cv=3,
    ).fit(Xc, yc)
print("best:", search.best_params_, f"accuracy {search.best_score_:.3f}")

r = np.linspace(-4, 4, 401)
fig, (ax_loss, ax_curve) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
for loss in ["squared_error", "huber", "log_cosh"]:
    values, _ = LOSSES.create(loss, "loss").loss_gradient(
        np.zeros((len(r), 1)), -r.reshape(-1, 1)
    )
    ax_loss.plot(r, values, label=loss)
ax_loss.set(ylim=(0, 4), xlabel="residual r = y - z", ylabel="loss", title="losses")
for name, clf in fits.items():
    ax_curve.semilogy(clf.loss_curve_, label=name)
ax_curve.set(xlabel="epoch", ylabel="training objective", title="breast_cancer")
for ax in (ax_loss, ax_curve):
    ax.legend()
    ax.grid(alpha=0.3)
plt.show()
