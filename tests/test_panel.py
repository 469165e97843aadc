"""The training results of a fixed panel of fits, pinned to 1e-12 relative.

The panel (``tests/panel.py``) records the behaviour of the training loop
before the training-engine refactor (issue 11): every case's ``coef_``,
``intercept_``, ``loss_curve_`` and ``validation_scores_`` must match
``tests/data/panel.npz`` to ``rtol=1e-12`` (with an absolute tolerance of
``1e-12`` times the array's largest magnitude, so that the exact zeros of l1
compare sanely), with the same shapes and dtypes, and ``n_iter_`` and ``t_``
exactly. A change that alters these results on purpose regenerates the fixture
with ``python tests/panel.py --write`` and says so in its commit message.

The float64 cases tolerate rounding-level changes (per-sample gradients
perturbed by 64 ulps stay within the tolerance); the float32 cases (``f32-*``,
``*-f32``) pass only if float32 arithmetic is unchanged bit for bit.
"""

import functools
from collections import Counter

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from panel import CASE_IDS, CASES, CASES_BY_ID, FIXTURE, run_case

from sklearn_nnopt import OPTIMIZERS

EXACT = ("n_iter_", "t_")


@functools.cache
def _fixture():
    """``{case_id: {name: array}}`` read from the fixture."""
    stored = {}
    with np.load(FIXTURE) as data:
        for key in data.files:
            case_id, name = key.split("/")
            stored.setdefault(case_id, {})[name] = data[key]
    return stored


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_panel_case_reproduces_fixture(case_id):
    expected = _fixture().get(case_id)
    assert expected is not None, (
        f"{case_id!r} is not in {FIXTURE.name}; run python tests/panel.py --write"
    )
    actual = run_case(CASES_BY_ID[case_id])
    assert sorted(actual) == sorted(expected)
    for name, want in expected.items():
        got = actual[name]
        assert got.shape == want.shape, name
        assert got.dtype == want.dtype, name
        if name in EXACT:
            assert_array_equal(got, want, err_msg=name)
        else:
            atol = 1e-12 * float(np.max(np.abs(want))) if want.size else 0.0
            assert_allclose(got, want, rtol=1e-12, atol=atol, err_msg=name)


def test_fixture_holds_exactly_the_panel():
    stored = set(_fixture())
    panel = set(CASE_IDS)
    assert len(CASE_IDS) == len(panel), "duplicate case ids"
    assert not panel - stored, f"missing from the fixture: {sorted(panel - stored)}"
    assert not stored - panel, f"stale in the fixture: {sorted(stored - panel)}"


#: Names the panel does not train: the finite-sum SAGA and SAG came after the
#: fixture, and cases of theirs would need it regenerated; tests/test_saga.py
#: pins their steps to a step-by-step reference instead.
NOT_IN_PANEL = {name for name, cls, _ in OPTIMIZERS.items() if cls.finite_sum}


def test_panel_uses_every_optimizer_name():
    """Each registered optimizer name trains at least three panel cases."""
    counts = Counter(
        case.params["optimizer"]
        for case in CASES
        if isinstance(case.params.get("optimizer"), str)
    )
    names = [name for name in OPTIMIZERS.names() if name not in NOT_IN_PANEL]
    assert {name: counts[name] for name in names if counts[name] < 3} == {}
    assert NOT_IN_PANEL == {"saga", "sag"}
