"""The phone tests' shared fixture: a home for the module's companion."""
from __future__ import annotations

import pytest

from tests.phone.helpers import begun


@pytest.fixture(scope="module")
def home(tmp_path_factory, shared_cache):
    """A home of the module's own, with the fixture programme begun (`today --program steps`)."""
    return begun(tmp_path_factory.mktemp("phone"), shared_cache)
