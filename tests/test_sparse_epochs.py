"""The compiled sparse stepper's whole epochs (``CompiledSparseStepper.run_epoch``).

The training loop hands a compiled sparse stepper all of an epoch's batches
at once; it must give the iterates of its own :meth:`step` called batch by
batch (which the numpy stepper's equivalence tests pin down): parameters,
optimizer state, each step's loss, weight and Pflug inner product, the step
count, and Schedule-Free AdamW's step weights (warmup, ``lr_max``, the
weights' sum), its running product and its folds. Every optimizer the
kernel covers has a row in ``OPTIMIZERS``; a covered one without a row fails.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_nnopt import (
    SGD,
    Adam,
    LinearNNClassifier,
    ScheduleFreeAdamW,
    _kernels,
    _steppers,
)
from sklearn_nnopt._kernels import CompiledSparseStepper
from sklearn_nnopt._objective import Objective
from sklearn_nnopt._parameters import Parameters
from sklearn_nnopt._training import TrainingData, _epoch_batches
from sklearn_nnopt.losses import LOSSES

OPTIMIZERS = {
    "sgd": lambda: SGD(),
    "adam": lambda: Adam(),
    "amsgrad": lambda: Adam(amsgrad=True),
    "schedulefree_adamw": lambda: ScheduleFreeAdamW(warmup_steps=4),
}


def test_every_covered_optimizer_has_a_row():
    rows = {type(make()) for make in OPTIMIZERS.values()}
    assert rows == set(_kernels.COVERED_OPTIMIZERS)


@pytest.fixture(scope="module")
def text():
    rng = np.random.RandomState(0)
    n, p = 160, 90
    X = sp.random(n, p, density=0.06, format="csr", random_state=rng)
    X.data += 0.1
    raw = X @ rng.randn(p)
    y = (raw > np.median(raw)).astype(float)
    return X, y


def _stepper(X, Y, sw, optimizer, dtype, n_outputs, batch_size):
    data = TrainingData(X.astype(dtype), Y, sw, batch_size=batch_size)
    objective = Objective(LOSSES.create("log_loss", "loss"), 1e-2, "l2", 0, True)
    params = Parameters(
        np.zeros((n_outputs, X.shape[1]), dtype), np.full(n_outputs, 0.1, dtype)
    )
    stepper = _kernels.sparse_stepper(data, objective, optimizer, params, track=True)
    assert isinstance(stepper, CompiledSparseStepper)
    return data, params, stepper


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS), ids=str)
def test_run_epoch_gives_the_steps_iterates(
    text, optimizer, dtype, n_outputs, weighted
):
    X, y = text
    Y = (
        y[:, None]
        if n_outputs == 1
        else np.eye(3)[(y + (X.indptr[1:] % 2)).astype(int)]
    )
    Y = np.asfortranarray(Y.astype(dtype))
    rng = np.random.RandomState(1)
    sw = rng.rand(X.shape[0]) + 0.5 if weighted else np.ones(X.shape[0])
    if weighted:
        sw[:30] = 0.0  # whole zero-weight batches are left out
    opts = [OPTIMIZERS[optimizer](), OPTIMIZERS[optimizer]()]
    data, params_a, by_epoch = _stepper(X, Y, sw, opts[0], dtype, n_outputs, 15)
    _, params_b, by_step = _stepper(X, Y, sw, opts[1], dtype, n_outputs, 15)
    if by_epoch.sequences is not None:
        # Fold the product into w often (a fold every few steps, not once
        # in ~1e10), in both.
        by_epoch.sequences.MIN_PRODUCT = by_step.sequences.MIN_PRODUCT = 0.6
    shuffle = np.random.RandomState(5)
    for epoch in range(3):
        order, starts, stops, is_weighted = _epoch_batches(data, True, shuffle)
        rates = 0.05 / (1 + epoch) * (1 + np.arange(len(starts)) % 3)
        losses, weights = by_epoch.run_epoch(order, starts, stops, rates, is_weighted)
        inners = np.array(by_epoch.inner)
        for i, (start, stop) in enumerate(zip(starts, stops, strict=True)):
            rows = order[start:stop]
            swb = sw[rows] if is_weighted else None
            loss, weight = by_step.step(None, Y[rows], swb, rates[i], rows)
            assert loss == pytest.approx(losses[i], rel=1e-13, abs=1e-300)
            assert weight == pytest.approx(weights[i], rel=1e-13)
            assert by_step.inner == pytest.approx(inners[i], rel=1e-12, abs=1e-300)
        by_epoch.finish()
        by_step.finish()
        np.testing.assert_allclose(params_a.buffer, params_b.buffer, rtol=1e-13)
        for name, buffers in opts[1].state_.values.items():
            np.testing.assert_allclose(
                opts[0].state_.values[name], buffers, rtol=1e-13, err_msg=name
            )
        assert opts[0].t_ == opts[1].t_
    if by_epoch.sequences is not None:
        assert by_epoch.sequences.product == by_step.sequences.product == 1.0


def test_partial_fit_holds_its_last_batch(text, monkeypatch):
    """A partial_fit call runs all its batches but the last in one call; the
    last is stepped (and judged, check_last_step) on its own; the result is
    the numpy stepper's."""
    X, y = text
    runs, steps = [], []
    run_epoch, step = CompiledSparseStepper.run_epoch, CompiledSparseStepper.step

    def counting_run_epoch(self, order, starts, *args):
        runs.append(len(starts))
        return run_epoch(self, order, starts, *args)

    def counting_step(self, *args, **kwargs):
        steps.append(1)
        return step(self, *args, **kwargs)

    monkeypatch.setattr(CompiledSparseStepper, "run_epoch", counting_run_epoch)
    monkeypatch.setattr(CompiledSparseStepper, "step", counting_step)
    made = []
    make = _steppers.make_stepper
    monkeypatch.setattr(
        _steppers,
        "make_stepper",
        lambda *a, **k: made.append(make(*a, **k)) or made[-1],
    )
    fits = []
    for enabled in (True, False):
        monkeypatch.setattr(_kernels, "ENABLED", enabled)
        est = LinearNNClassifier(optimizer="adam", batch_size=20, random_state=0)
        for _ in range(2):
            est.partial_fit(X, y, classes=[0.0, 1.0])
        fits.append(est)
        if enabled:
            assert all(isinstance(s, CompiledSparseStepper) for s in made)
            assert runs == [7, 7] and len(steps) == 2  # 160 rows, batches of 20
    np.testing.assert_allclose(fits[0].coef_, fits[1].coef_, rtol=1e-12)
    assert fits[0].t_ == fits[1].t_ == 16


def test_run_epoch_refuses_bad_batches(text):
    X, y = text
    Y = np.asfortranarray(y[:, None])
    _, _, stepper = _stepper(X, Y, np.ones(len(y)), Adam(), np.float64, 1, 15)
    losses = weights = inners = np.empty(1)
    for starts, stops in (([0], [16]), ([5], [5]), ([150], [170])):
        with pytest.raises(ValueError, match="batch 0"):
            stepper.kernel.run(
                None,
                np.array(starts, dtype=np.intp),
                np.array(stops, dtype=np.intp),
                np.array([0.1]),
                False,
                0,
                losses,
                weights,
                inners,
            )
