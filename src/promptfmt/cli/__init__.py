"""The promptfmt command line. The only package that imports typer; it presents, the library decides."""

from .app import app, main

__all__ = ["app", "main"]
