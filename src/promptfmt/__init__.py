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
from .batch import BatchError, messages_batch, parse_batch, render_batch
from .convert import ConvertSummary, ConvertUsageError, convert
from .declarative import dumps_format, load_format_file
from .detect import Detection, Match, detect_format
from .format import Format
from .hookspecs import hookimpl
from .importer import ChatTemplate, TemplateImportError, import_chat_template, load_chat_template
from .issues import Issue
from .mapping import FieldMapping
from .models import Loss, LossReason, Query, Record, Rendered, Verdict
from .plugins import make_plugin_manager
from .registry import FormatRegistry, build_registry, load_registry
from .report import Report
from .split import Fractions, split
from .template import Template, TemplateFormat
from .validate import Checked, Validator, validate

__all__ = [
    "BatchError",
    "ChatTemplate",
    "Checked",
    "ConvertSummary",
    "ConvertUsageError",
    "DataError",
    "Detection",
    "DuplicateFormatError",
    "FieldMapping",
    "Fractions",
    "Format",
    "FormatDefinitionError",
    "FormatRegistry",
    "Issue",
    "Loss",
    "LossReason",
    "Match",
    "ParseError",
    "PluginError",
    "PromptfmtError",
    "Query",
    "Record",
    "Rendered",
    "Report",
    "Template",
    "TemplateFormat",
    "TemplateImportError",
    "UnknownFormatError",
    "Validator",
    "Verdict",
    "build_registry",
    "convert",
    "detect_format",
    "dumps_format",
    "hookimpl",
    "import_chat_template",
    "load_chat_template",
    "load_format_file",
    "load_registry",
    "make_plugin_manager",
    "messages_batch",
    "parse_batch",
    "render_batch",
    "split",
    "validate",
]
