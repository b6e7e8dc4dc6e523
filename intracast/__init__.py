"""intracast: the composition root (config, store, scheduler, web app, CLI)."""

__version__ = "0.1.0"
