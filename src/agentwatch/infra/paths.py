"""agentwatch's own directories (platformdirs), overridable by flags and environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP = "agentwatch"


@dataclass(frozen=True, slots=True)
class AppDirs:
    """Where agentwatch keeps its config, index and log; never inside an agent's folders."""

    config: Path
    """`config.toml` and user themes."""
    cache: Path
    """The index."""
    state: Path
    """`agentwatch.log`."""

    @property
    def log_file(self) -> Path:
        """agentwatch's own log."""
        return self.state / "agentwatch.log"

    @property
    def config_file(self) -> Path:
        """The settings file."""
        return self.config / "config.toml"


def app_dirs(
    *,
    config_dir: str | None = None,
    cache_dir: str | None = None,
    env: Mapping[str, str] | None = None,
) -> AppDirs:
    """Resolve the directories: flag, then `AGENTWATCH_*_DIR`, then the platform default."""
    env = os.environ if env is None else env

    def pick(flag: str | None, var: str, default: str) -> Path:
        value = flag or env.get(var)
        return Path(value).expanduser() if value else Path(default)

    return AppDirs(
        config=pick(config_dir, "AGENTWATCH_CONFIG_DIR", platformdirs.user_config_dir(APP)),
        cache=pick(cache_dir, "AGENTWATCH_CACHE_DIR", platformdirs.user_cache_dir(APP)),
        state=pick(None, "AGENTWATCH_STATE_DIR", platformdirs.user_state_dir(APP)),
    )
