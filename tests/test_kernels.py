"""The compiled kernels (sklearn_nnopt/_kernels): built, chosen, and equivalent.

The numpy :class:`~sklearn_nnopt._sparse.SparseColumnStepper` is the
reference: the compiled stepper must give its iterates step for step (1e-12
relative in float64, 1e-5 in float32) for every loss and optimizer it covers,
and every covered fit must actually run it (a silent fallback to numpy fails
here). What it does not cover (l1, several outputs, momentum, ...) must fall
back.
"""

import copy
import importlib.metadata
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from lockstep import lockstep, relative

import sklearn_nnopt
from sklearn_nnopt import (
    SGD,
    Adam,
    LinearNNClassifier,
    LinearNNRegressor,
    _kernels,
    _steppers,
)
from sklearn_nnopt._kernels import CompiledDenseStepper, CompiledSparseStepper
from sklearn_nnopt._objective import Objective
from sklearn_nnopt._parameters import Parameters
from sklearn_nnopt._sparse import SparseColumnStepper
from sklearn_nnopt._training import TrainingData
from sklearn_nnopt.losses import LOSSES

SOURCE = Path(__file__).resolve().parents[1] / "sklearn_nnopt"
CLASSIFICATION_LOSSES = [
    "log_loss",
    "hinge",
    "squared_hinge",
    "modified_huber",
    "perceptron",
    "squared_error",
]
REGRESSION_LOSSES = {
    "squared_error": "squared_error",
    "absolute_error": "absolute_error",
    "huber": "huber",
    "huber_delta_5": LOSSES.create("huber", "loss").set_params(delta=5.0),
    "epsilon_insensitive": "epsilon_insensitive",
    "squared_epsilon_insensitive": "squared_epsilon_insensitive",
    "quantile_0.8": LOSSES.create("quantile", "loss").set_params(quantile=0.8),
    "poisson": "poisson",
}
OPTIMIZERS = {
    "sgd": lambda: SGD(),
    "adam": lambda: Adam(),
    "amsgrad": lambda: Adam(amsgrad=True),
}
RTOL = {np.float64: 1e-12, np.float32: 1e-5}


@pytest.fixture(scope="module")
def text():
    """A CSR problem with Zipf-like column frequencies, binary and real targets."""
    rng = np.random.RandomState(0)
    n, p = 400, 120
    # Column j appears with a probability decaying in j; rows of 5-15 terms.
    freq = 1.0 / np.arange(1, p + 1) ** 0.8
    freq /= freq.sum()
    rows, cols = [], []
    for i in range(n):
        k = rng.randint(5, 16)
        chosen = np.unique(rng.choice(p, size=k, p=freq))
        rows += [i] * len(chosen)
        cols += chosen.tolist()
    X = sp.csr_matrix((rng.rand(len(rows)) + 0.1, (rows, cols)), shape=(n, p))
    w = rng.randn(p)
    raw = X @ w
    y_class = (raw + 0.3 * rng.randn(n) > np.median(raw)).astype(int)
    y_reg = raw * 10 + 50 + rng.randn(n)
    return X, y_class, y_reg


def _fit_both(make, X, y, spy, monkeypatch, **fit_params):
    """Fit with the compiled kernel and with numpy; assert each ran."""
    compiled = make().fit(X, y, **fit_params)
    assert spy[-1] is CompiledSparseStepper, (
        f"a covered fit fell back to {spy[-1].__name__} "
        f"(compiled kernels built: {_kernels.AVAILABLE})"
    )
    monkeypatch.setattr(_kernels, "ENABLED", False)
    reference = make().fit(X, y, **fit_params)
    monkeypatch.setattr(_kernels, "ENABLED", True)
    assert spy[-1] is SparseColumnStepper
    return compiled, reference


def _assert_same_fit(compiled, reference, dtype):
    rtol = RTOL[dtype]
    assert compiled.coef_.dtype == reference.coef_.dtype == dtype
    assert relative(compiled.coef_, reference.coef_) <= rtol
    assert relative(compiled.intercept_, reference.intercept_) <= rtol
    np.testing.assert_allclose(compiled.loss_curve_, reference.loss_curve_, rtol=rtol)
    assert compiled.n_iter_ == reference.n_iter_
    assert compiled.t_ == reference.t_


def test_kernels_are_built():
    """The installed package has its compiled module (pip install . builds it)."""
    assert _kernels.AVAILABLE, (
        "sklearn_nnopt._kernels._sparse_sgd is not built: these tests ran "
        f"against {sklearn_nnopt.__file__}; install the package (pip install .) "
        "and run the tests against it (see README, Development)."
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("loss", CLASSIFICATION_LOSSES)
def test_classifier_same_iterates(text, spy, monkeypatch, loss, optimizer, dtype):
    X, y, _ = text

    def make():
        return LinearNNClassifier(
            loss=loss,
            optimizer=OPTIMIZERS[optimizer](),
            alpha=1e-2,
            batch_size=32,
            max_iter=4,
            tol=None,
            random_state=0,
        )

    compiled, reference = _fit_both(make, X.astype(dtype), y, spy, monkeypatch)
    _assert_same_fit(compiled, reference, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("loss", list(REGRESSION_LOSSES))
def test_regressor_same_iterates(text, spy, monkeypatch, loss, optimizer, dtype):
    X, _, y = text
    if loss == "poisson":
        y = np.abs(y) / 50

    def make():
        return LinearNNRegressor(
            loss=copy.deepcopy(REGRESSION_LOSSES[loss]),
            optimizer=OPTIMIZERS[optimizer](),
            alpha=1e-3,
            batch_size=50,
            max_iter=3,
            tol=None,
            random_state=0,
        )

    compiled, reference = _fit_both(
        make, X.astype(dtype), y.astype(dtype), spy, monkeypatch
    )
    _assert_same_fit(compiled, reference, dtype)


VARIANTS = {
    "sample_weight": ({}, {"sample_weight": "random"}),
    "no_intercept": ({"fit_intercept": False}, {}),
    "no_shuffle": ({"shuffle": False}, {}),
    "early_stopping": ({"early_stopping": True, "n_iter_no_change": 2}, {}),
    "no_penalty": ({"penalty": None}, {}),
    "constant_step": ({"learning_rate": "constant", "learning_rate_init": 0.05}, {}),
    # The global scale of plain SGD falls below 1e-6 and is folded.
    "scale_folds": (
        {"learning_rate": "constant", "learning_rate_init": 0.5, "alpha": 0.5},
        {},
    ),
    "int64_indices": ({}, {"int64": True}),
}


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variants_same_iterates(text, spy, monkeypatch, variant, optimizer):
    X, y, _ = text
    params, special = VARIANTS[variant]
    fit_params = {}
    if special.get("sample_weight"):
        fit_params["sample_weight"] = np.random.RandomState(1).rand(len(y)) * 2
    if special.get("int64"):
        X = X.copy()
        X.indices = X.indices.astype(np.int64)
        X.indptr = X.indptr.astype(np.int64)

    def make():
        settings = dict(
            loss="log_loss",
            optimizer=OPTIMIZERS[optimizer](),
            alpha=1e-2,
            batch_size=32,
            max_iter=4,
            tol=None,
            random_state=0,
        )
        settings.update(params)
        return LinearNNClassifier(**settings)

    compiled, reference = _fit_both(make, X, y, spy, monkeypatch, **fit_params)
    _assert_same_fit(compiled, reference, np.float64)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_partial_fit_and_warm_start_same_iterates(text, spy, monkeypatch, optimizer):
    """Streams (each call's last-step check reads the rows itself) and warm
    starts (Adam's state continues) run the kernel too."""
    X, y, _ = text
    results = []
    for enabled in (True, False):
        monkeypatch.setattr(_kernels, "ENABLED", enabled)
        clf = LinearNNClassifier(
            optimizer=OPTIMIZERS[optimizer](),
            alpha=1e-3,
            batch_size=40,
            tol=None,
            random_state=0,
        )
        for start in range(0, X.shape[0], 100):
            rows = slice(start, start + 100)
            clf.partial_fit(X[rows], y[rows], classes=[0, 1])
        expected = CompiledSparseStepper if enabled else SparseColumnStepper
        assert spy[-1] is expected
        clf.set_params(warm_start=True, max_iter=2)
        clf.fit(X, y)
        assert spy[-1] is expected
        results.append(clf)
    _assert_same_fit(*results, np.float64)


STEP_LOSSES = sorted(set(CLASSIFICATION_LOSSES) | set(REGRESSION_LOSSES))


@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("loss", STEP_LOSSES)
def test_steps_match_numpy_stepper(text, loss, optimizer, dtype, n_outputs):
    """Step by step: parameters, optimizer state, loss and Pflug's statistic."""
    X, y, y_reg = text
    X = X.astype(dtype)
    if loss == "log_loss":
        Y = y[:, None]  # 0/1
        if n_outputs > 1:  # one-hot, for the softmax
            Y = np.eye(n_outputs)[np.digitize(y_reg, np.quantile(y_reg, [0.3, 0.6]))]
    elif loss in CLASSIFICATION_LOSSES and loss != "squared_error":
        Y = 2 * y[:, None] - 1  # the sign targets of margin losses
        if n_outputs > 1:
            Y = np.column_stack([Y, -Y, Y[::-1]])
    else:
        Y = np.column_stack([y_reg, -y_reg / 2, y_reg[::-1]])[:, :n_outputs] / 50
        if loss == "poisson":
            Y = np.abs(Y)
    Y = np.asfortranarray(Y.astype(dtype))
    sw = np.random.RandomState(2).rand(X.shape[0]) + 0.5
    data = TrainingData(X, Y, sw, batch_size=25)
    loss_function = REGRESSION_LOSSES.get(loss, loss)
    objective = Objective(LOSSES.create(loss_function, "loss"), 1e-2, "l2", 0.15, True)
    start = Parameters(
        np.zeros((n_outputs, X.shape[1]), dtype), np.full(n_outputs, 0.1, dtype)
    )
    params = [start.copy(), start.copy()]
    opts = [OPTIMIZERS[optimizer](), OPTIMIZERS[optimizer]()]
    compiled = _kernels.sparse_stepper(data, objective, opts[0], params[0], track=True)
    assert isinstance(compiled, CompiledSparseStepper)
    numpy_stepper = SparseColumnStepper(
        X, X.shape[0], 25, objective, opts[1], params[1], track=True
    )
    rtol = RTOL[dtype]

    def after_step():
        # (Plain SGD: U of W = scale * U, the same in both.)
        assert compiled.kernel.scale == pytest.approx(numpy_stepper.scale, rel=rtol)
        assert relative(params[0].buffer, params[1].buffer) <= rtol
        for name in opts[0].state_.values:
            assert relative(opts[0].state_[name][0], opts[1].state_[name][0]) <= rtol

    def after_epoch():
        assert relative(params[0].buffer, params[1].buffer) <= rtol
        assert opts[0].t_ == opts[1].t_

    lockstep(
        compiled,
        numpy_stepper,
        X,
        Y,
        sw,
        25,
        0.1,
        rtol,
        after_step=after_step,
        after_epoch=after_epoch,
    )


def test_dense_and_sparse_sgd_same_iterates(text, spy):
    """Plain SGD's column steps are exact: the dense fit gives the same model."""
    X, y, _ = text

    def make():
        return LinearNNClassifier(
            optimizer="sgd",
            alpha=1e-2,
            batch_size=32,
            max_iter=4,
            tol=None,
            random_state=0,
            precondition=False,
        )

    sparse = make().fit(X, y)
    assert spy[-1] is CompiledSparseStepper
    dense = make().fit(X.toarray(), y)
    assert spy[-1] is CompiledDenseStepper
    assert relative(sparse.coef_, dense.coef_) <= 1e-12
    assert relative(sparse.intercept_, dense.intercept_) <= 1e-12
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_kernels, "ENABLED", False)
        reference = make().fit(X.toarray(), y)
    assert spy[-1] is _steppers.DenseStepper
    assert relative(reference.coef_, dense.coef_) <= 1e-12


@pytest.mark.parametrize(
    "params, reason",
    [
        ({"penalty": "l1"}, None),
        ({"penalty": "elasticnet", "l1_ratio": 0.5}, None),
        ({"optimizer": "momentum"}, None),
        ({"optimizer": Adam(lazy=False)}, None),
        ({"optimizer": "rmsprop"}, None),
        ({"average": True}, None),
    ],
    ids=["l1", "elasticnet", "momentum", "dense_adam", "rmsprop", "avg"],
)
def test_uncovered_fits_fall_back(text, spy, params, reason):
    X, y, _ = text
    settings = dict(optimizer="sgd", batch_size=32, max_iter=2, tol=None)
    settings.update(params)
    LinearNNClassifier(**settings).fit(X, y)
    assert spy[-1] is not CompiledSparseStepper


def test_multilabel_falls_back(text, spy):
    """A multilabel fit trains a per-label wrapper of the loss: numpy."""
    X, y, _ = text
    Y = np.column_stack([y, 1 - y, y])
    LinearNNClassifier(optimizer="adam", max_iter=2, tol=None).fit(X, Y)
    assert spy[-1] is SparseColumnStepper


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize(
    "loss, n_classes",
    [("log_loss", 3), ("log_loss", 9), ("hinge", 3), ("modified_huber", 4)],
)
def test_multiclass_same_iterates(
    text, spy, monkeypatch, loss, n_classes, optimizer, dtype
):
    """Several outputs: the softmax (9 classes: its sums pairwise, as numpy's),
    one-vs-rest margins."""
    X, _, y_reg = text
    y = np.digitize(y_reg, np.quantile(y_reg, np.arange(1, n_classes) / n_classes))

    def make():
        return LinearNNClassifier(
            loss=loss,
            optimizer=OPTIMIZERS[optimizer](),
            alpha=1e-2,
            batch_size=32,
            max_iter=3,
            tol=None,
            random_state=0,
        )

    compiled, reference = _fit_both(make, X.astype(dtype), y, spy, monkeypatch)
    assert compiled.coef_.shape == (n_classes, X.shape[1])
    _assert_same_fit(compiled, reference, dtype)


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("loss", ["squared_error", "huber", "poisson"])
@pytest.mark.parametrize(
    "params",
    [{}, {"fit_intercept": False}, {"learning_rate": "constant"}],
    ids=["default", "no_intercept", "constant"],
)
def test_multi_output_regression_same_iterates(
    text, spy, monkeypatch, params, loss, optimizer
):
    X, _, y_reg = text
    Y = np.column_stack([y_reg, -y_reg / 3 + 1, y_reg[::-1]])
    if loss == "poisson":
        Y = np.abs(Y) / 50
    weights = np.random.RandomState(4).rand(len(Y)) + 0.5

    def make():
        return LinearNNRegressor(
            loss=loss,
            optimizer=OPTIMIZERS[optimizer](),
            alpha=1e-3,
            batch_size=40,
            max_iter=3,
            tol=None,
            random_state=0,
            **params,
        )

    compiled, reference = _fit_both(make, X, Y, spy, monkeypatch, sample_weight=weights)
    assert compiled.coef_.shape == (3, X.shape[1])
    _assert_same_fit(compiled, reference, np.float64)


@pytest.mark.parametrize("penalty", ["l1", "elasticnet"])
def test_l1_is_never_compiled(text, penalty):
    """Whatever route l1 fits take to the column steppers, the kernel refuses
    them (it has no l1 step)."""
    X, y, _ = text
    data = TrainingData(X, y.astype(float)[:, None], np.ones(len(y)), 32)
    objective = Objective(LOSSES.create("log_loss", "loss"), 1e-2, penalty, 0.5, True)
    params = Parameters(np.zeros((1, X.shape[1])), np.zeros(1))
    for optimizer in (SGD(), Adam()):
        assert _kernels.unsupported(data, objective, optimizer, params) == (
            "an l1 penalty"
        )
        assert _kernels.sparse_stepper(data, objective, optimizer, params) is None


def test_version_matches_metadata():
    assert sklearn_nnopt.__version__ == importlib.metadata.version("sklearn-nnopt")


def test_every_module_is_installed():
    """meson installs every Python file of the source tree (no list to forget)."""
    installed = Path(sklearn_nnopt.__file__).resolve().parent
    if installed == SOURCE:
        pytest.skip("the tests run on the source tree itself")
    missing = [
        str(path.relative_to(SOURCE))
        for path in SOURCE.rglob("*.py")
        if not (installed / path.relative_to(SOURCE)).is_file()
    ]
    assert not missing
