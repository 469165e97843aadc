"""Shared pytest configuration: hypothesis profiles.

``default`` keeps the property-based tests fast enough for CI; ``thorough``
explores many more examples::

    python -m pytest --hypothesis-profile=thorough

(the option comes from hypothesis's pytest plugin). The profile can also be
chosen with the ``HYPOTHESIS_PROFILE`` environment variable.
"""

import os

from hypothesis import HealthCheck, settings

# derandomize: CI explores the same examples every run (no flaky red builds);
# the thorough profile searches at random.
settings.register_profile(
    "default",
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or "default")
