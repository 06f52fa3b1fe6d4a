"""promptfmt's built-in formats. Each module is an ordinary plugin (see `promptfmt.plugins.BUILTIN_PLUGINS`)."""
