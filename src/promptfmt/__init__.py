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
from .issues import Issue
from .mapping import FieldMapping
from .models import Loss, LossReason, Query, Record, Rendered, Verdict
from .plugins import make_plugin_manager
from .registry import FormatRegistry, build_registry, load_registry
from .report import Report
from .template import Template, TemplateFormat
from .validate import Checked, Validator, validate

__all__ = [
    "Checked",
    "DataError",
    "DuplicateFormatError",
    "FieldMapping",
    "Format",
    "FormatDefinitionError",
    "FormatRegistry",
    "Issue",
    "Loss",
    "LossReason",
    "ParseError",
    "PluginError",
    "PromptfmtError",
    "Query",
    "Record",
    "Rendered",
    "Report",
    "Template",
    "TemplateFormat",
    "UnknownFormatError",
    "Validator",
    "Verdict",
    "build_registry",
    "hookimpl",
    "load_registry",
    "make_plugin_manager",
    "validate",
]
