"""
Learning-rate schedules
=======================

``learning_rate=`` sets the step size :math:`\\eta_t` of every optimizer step
``t``. This example records the step sizes that each schedule actually hands
to the optimizer during a fit, with a two-line optimizer subclass, and draws
them next to the training objective per epoch.

The problem is ``load_breast_cancer`` (standardized) with the log loss, plain
SGD (the schedules ``"optimal"`` and ``"invscaling"`` come from
``SGDClassifier``, made for it), minibatches of 50 samples (12 steps per
epoch) and ``alpha=1e-3``.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from sklearn_nnopt import SGD, LinearNNClassifier


class RecordingSGD(SGD):
    """SGD that also records the step size ``lr`` of every update."""

    def _update(self, params, grads, lr, state):
        # All of an optimizer's state lives in `state` (its `state_`).
        state.values.setdefault("lr_history", []).append(lr)
        return super()._update(params, grads, lr, state)


X, y = load_breast_cancer(return_X_y=True)
X = StandardScaler().fit_transform(X)

common = dict(alpha=1e-3, batch_size=50, max_iter=60, random_state=0)
settings = {
    "constant": dict(tol=None),
    "invscaling": dict(tol=None, power_t=0.5),
    "optimal": dict(tol=None),
    # "adaptive" divides the step by 5 whenever the objective improves by
    # less than tol for n_iter_no_change epochs.
    "adaptive": dict(tol=1e-3, n_iter_no_change=3),
    "cosine": dict(tol=None),
}
fits = {}
for schedule, params in settings.items():
    est = LinearNNClassifier(
        optimizer=RecordingSGD(), learning_rate=schedule, **common, **params
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    fits[schedule] = est
    lrs = est.optimizer_.state_["lr_history"]
    print(
        f"{schedule:<10} epochs {est.n_iter_:3d}  first step {lrs[0]:8.4f}  "
        f"last step {lrs[-1]:9.2e}  final objective {est.loss_:.4f}"
    )

# %%
# ``constant`` and ``invscaling`` start at the automatic step, ``1 / L`` for
# SGD (``learning_rate_init="auto"``). ``optimal`` ignores it: its
# :math:`1 / (\alpha (t_0 + t - 1))` starts near :math:`\alpha^{-1/4}`, far
# above ``1 / L`` here, and decays slowly. ``adaptive`` keeps its step until the
# objective stalls, then divides it by 5, and stops once it is below
# :math:`10^{-6}` or at ``max_iter``. ``cosine`` anneals from the automatic step
# to 0 over ``max_iter`` epochs, one value per epoch.

fig, (ax_lr, ax_obj) = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
for schedule, est in fits.items():
    lrs = np.asarray(est.optimizer_.state_["lr_history"])
    ax_lr.semilogy(np.arange(1, len(lrs) + 1), lrs, label=schedule)
    epochs = np.arange(1, len(est.loss_curve_) + 1)
    ax_obj.semilogy(epochs, est.loss_curve_, label=schedule)
ax_lr.set(xlabel="optimizer step t", ylabel="step size", title="step size per step")
ax_obj.set(xlabel="epoch", ylabel="training objective", title="loss_curve_")
for ax in (ax_lr, ax_obj):
    ax.grid(alpha=0.3, which="both")
    ax.legend()
plt.show()

# %%
# On this problem the large steps of ``optimal`` make the fastest progress:
# the log loss's gradient is bounded, so steps far above ``1 / L`` bounce
# around without diverging (on a squared error they would). ``invscaling``
# decays from a start that is already the largest stable step and falls
# behind. ``adaptive``, with ``tol=1e-3``, cuts its step once the progress per
# epoch drops below ``tol`` and stops when the step is spent; ``cosine`` follows
# ``constant`` and then settles as its step vanishes.
#
# A schedule changes the step size only: the optimizer's buffers (momentum,
# Adam's moments) carry on, as with a ``torch.optim.lr_scheduler``. With the
# adaptive optimizers, whose steps are in parameter units, ``optimal`` is
# usually far too large; ``cosine``, ``invscaling`` and ``adaptive`` work with
# every stochastic optimizer, and ``lbfgs`` ignores ``learning_rate``.
