"""Fixtures of the signed-command tests."""

from __future__ import annotations

import pytest

from e2e_commands.signing_keys import Keys, make_keys


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("pki"))
