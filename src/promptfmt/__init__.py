"""promptfmt: validate instruction records, render them byte-exact in a model's prompt style, parse them back."""

from .errors import (
    DataError,
    DuplicateFormatError,
    FormatDefinitionError,
    ParseError,
    PluginError,
    PromptfmtError,
    UnknownFormatError,
)
from .format import Format
from .hookspecs import hookimpl
from .models import Loss, LossReason, Query, Record, Rendered, Verdict
from .plugins import make_plugin_manager
from .registry import FormatRegistry, build_registry, load_registry
from .template import Template, TemplateFormat

__all__ = [
    "DataError",
    "DuplicateFormatError",
    "Format",
    "FormatDefinitionError",
    "FormatRegistry",
    "Loss",
    "LossReason",
    "ParseError",
    "PluginError",
    "PromptfmtError",
    "Query",
    "Record",
    "Rendered",
    "Template",
    "TemplateFormat",
    "UnknownFormatError",
    "Verdict",
    "build_registry",
    "hookimpl",
    "load_registry",
    "make_plugin_manager",
]
