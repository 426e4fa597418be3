"""Every release/secrets test runs with its own config folder and no key in the environment."""

from __future__ import annotations

import pytest

from anon_pipeline.secrets import KEY_ENV, KEY_FILE_ENV


@pytest.fixture(autouse=True)
def isolated_keys(tmp_path, monkeypatch):
    """Point the per-user key location at a temporary folder so no test reads or writes the real one."""
    config = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    return config
