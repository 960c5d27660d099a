from pathlib import Path

import pytest

from quantgate.config import Environment, load_settings
from quantgate.core import ConfigurationError


def test_defaults_use_local_sqlite_under_home(qg_home: Path) -> None:
    settings = load_settings()
    assert settings.environment is Environment.LOCAL
    assert settings.resolved_home == qg_home.resolve()
    assert settings.resolved_database_url == f"sqlite:///{qg_home.resolve() / 'quantgate.db'}"
    assert settings.lake_root == qg_home.resolve() / "lake"


def test_env_overrides_toml_file(
    qg_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "qg.toml"
    config.write_text('log_level = "DEBUG"\nexecutor = "ray"\nuniverse = ["BTCUSDT"]\n')
    settings = load_settings(config)
    assert (settings.log_level, settings.executor, settings.universe) == (
        "DEBUG",
        "ray",
        ("BTCUSDT",),
    )
    monkeypatch.setenv("QG_EXECUTOR", "local")
    assert load_settings(config).executor == "local"


def test_toml_in_working_directory_is_read(qg_home: Path, tmp_path: Path) -> None:
    (tmp_path / "quantgate.toml").write_text('log_format = "json"\n')
    assert load_settings().log_format == "json"


@pytest.mark.parametrize(
    ("env", "value", "field"),
    [
        ("QG_ENVIRONMENT", "prod", "settings.environment"),
        ("QG_LOG_LEVEL", "LOUD", "settings.log_level"),
        ("QG_EXECUTOR", "dask", "settings.executor"),
    ],
)
def test_invalid_values_name_the_field(
    qg_home: Path, monkeypatch: pytest.MonkeyPatch, env: str, value: str, field: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    assert error.value.field == field
    assert field in str(error.value) and "Fix:" in str(error.value)


def test_unknown_toml_key_names_the_key(qg_home: Path, tmp_path: Path) -> None:
    config = tmp_path / "qg.toml"
    config.write_text('databse_url = "sqlite:///x.db"\n')
    with pytest.raises(ConfigurationError) as error:
        load_settings(config)
    assert error.value.field == "settings.databse_url"
    assert "not a known setting" in str(error.value)


def test_missing_config_file_is_a_configuration_error(qg_home: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="QG_CONFIG_FILE"):
        load_settings(tmp_path / "absent.toml")


def test_default_secrets_refused_outside_local(
    qg_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QG_ENVIRONMENT", "production")
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    assert "operator_token" in str(error.value) and "QG_OPERATOR_TOKEN" in str(error.value)
    monkeypatch.setenv("QG_OPERATOR_TOKEN", "a-long-private-operator-token")
    monkeypatch.setenv("QG_API_SECRET_KEY", "short")
    with pytest.raises(ConfigurationError, match="api_secret_key"):
        load_settings()
    monkeypatch.setenv("QG_API_SECRET_KEY", "another-long-private-secret")
    settings = load_settings()
    assert settings.environment is Environment.PRODUCTION
    assert "a-long-private" not in repr(settings)


def test_viewer_token_outside_local_is_private_and_not_the_operators(
    qg_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QG_ENVIRONMENT", "production")
    monkeypatch.setenv("QG_OPERATOR_TOKEN", "a-long-private-operator-token")
    monkeypatch.setenv("QG_API_SECRET_KEY", "another-long-private-secret")
    monkeypatch.setenv("QG_VIEWER_TOKEN", "change-me")
    with pytest.raises(ConfigurationError, match=r"viewer_token.*QG_VIEWER_TOKEN"):
        load_settings()
    monkeypatch.setenv("QG_VIEWER_TOKEN", "a-long-private-operator-token")
    with pytest.raises(ConfigurationError, match="viewer_token must differ from operator_token"):
        load_settings()
    monkeypatch.setenv("QG_VIEWER_TOKEN", "a-long-private-viewer-token")
    assert load_settings().viewer_token is not None
