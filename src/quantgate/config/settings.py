"""Process settings from environment variables `QG_*` and an optional TOML file.

Precedence: explicit arguments, then environment, then the TOML file
(`QG_CONFIG_FILE`, else `./quantgate.toml` when present), then defaults.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from quantgate.config.errors import configuration_error_from
from quantgate.core.errors import ConfigurationError

DEFAULT_SECRET = "change-me"
DEFAULT_UNIVERSE = (
    "BTCUSDT",
    "ETHUSDT",
    "SOLUSDT",
    "XRPUSDT",
    "BNBUSDT",
    "ADAUSDT",
    "DOGEUSDT",
    "AVAXUSDT",
)

_config_file: ContextVar[Path | None] = ContextVar("quantgate_config_file", default=None)


class Environment(StrEnum):
    LOCAL = "local"
    STAGING = "staging"
    PRODUCTION = "production"


def _toml_path() -> Path | None:
    explicit = _config_file.get() or os.environ.get("QG_CONFIG_FILE")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigurationError(
                f"config file {path} does not exist",
                field="QG_CONFIG_FILE",
                fix="point QG_CONFIG_FILE (or --config) at an existing TOML file",
            )
        return path
    local = Path("quantgate.toml")
    return local if local.is_file() else None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="QG_", frozen=True, extra="forbid", validate_default=True
    )

    environment: Environment = Environment.LOCAL
    home: Path = Field(default=Path("var"), description="data home: lake, database, runs")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default SQLite under home"
    )
    operator_token: SecretStr = SecretStr(DEFAULT_SECRET)
    api_secret_key: SecretStr = SecretStr(DEFAULT_SECRET)
    # Read endpoints of the API: open, or behind this token (or the operator's).
    viewer_token: SecretStr | None = None
    api_read_requires_token: bool = False
    # Larger request bodies get 413 before a route reads them (a rebalance of a few
    # thousand signals or a prediction batch fits well within the default).
    api_max_body_bytes: int = Field(default=2 * 1024 * 1024, gt=0)
    log_format: Literal["console", "json"] = "console"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    universe: tuple[str, ...] = DEFAULT_UNIVERSE
    executor: Literal["local", "ray"] = "local"
    # Component tables from the TOML file (e.g. [features]); each layer validates its own.
    features: dict[str, Any] = Field(default_factory=dict)
    registry: dict[str, Any] = Field(default_factory=dict)
    serving: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml = _toml_path()
        if toml is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)

    @model_validator(mode="after")
    def _refuse_default_secrets_outside_local(self) -> Settings:
        if self.environment is Environment.LOCAL:
            return self
        names = ["operator_token", "api_secret_key"]
        if self.viewer_token is not None:
            names.append("viewer_token")
        for name in names:
            secret: SecretStr = getattr(self, name)
            value = secret.get_secret_value()
            if value == DEFAULT_SECRET or len(value) < 16:
                raise ValueError(
                    f"{name} must be set to a private value of at least 16 characters when "
                    f"environment is {self.environment.value}; set QG_{name.upper()}"
                )
        if (
            self.viewer_token is not None
            and self.viewer_token.get_secret_value() == self.operator_token.get_secret_value()
        ):
            # The API checks the operator's token first: a viewer holding it could write.
            raise ValueError(
                "viewer_token must differ from operator_token, or viewers get operator "
                "rights; set QG_VIEWER_TOKEN to a value of its own"
            )
        return self

    @model_validator(mode="after")
    def _read_token_when_reads_are_closed(self) -> Settings:
        if self.api_read_requires_token and self.viewer_token is None:
            raise ValueError("api_read_requires_token needs a viewer_token; set QG_VIEWER_TOKEN")
        return self

    @property
    def resolved_home(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_home / 'quantgate.db'}"

    @property
    def lake_root(self) -> Path:
        return self.resolved_home / "lake"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read settings; every problem becomes a ConfigurationError naming field and fix."""
    token = _config_file.set(config_file)
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise configuration_error_from(error, prefix="settings") from None
    finally:
        _config_file.reset(token)
