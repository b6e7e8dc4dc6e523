"""Config loading: YAML with positions, `${ENV}`, validation, clear problems."""

from intracast.config.loader import LoadedConfig, load_config
from intracast.config.model import Config, config_model
from intracast.config.problems import ConfigError, Problem

__all__ = ["Config", "ConfigError", "LoadedConfig", "Problem", "config_model", "load_config"]
