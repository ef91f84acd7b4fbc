"""One module per command (or family of commands); each adds its parsers with ``register``."""
