"""Templating: formats described by literal pieces (the engine of every built-in format), their
TOML files, and the import of Jinja chat templates through a sandbox."""

from .declarative import FormatFile, load_format_file, parse_format_text
from .importer import ImportResult, import_chat_template
from .limits import DEFAULT_LIMITS, Limits
from .sandbox import ChatTemplate, MissingTokensError, TemplateImportError, TemplateLimitError, load_chat_template
from .template import Template, TemplateFormat
from .turns import ChatTurns
from .writing import dumps_format

__all__ = [
    "ChatTemplate",
    "ChatTurns",
    "DEFAULT_LIMITS",
    "FormatFile",
    "ImportResult",
    "Limits",
    "MissingTokensError",
    "Template",
    "TemplateFormat",
    "TemplateImportError",
    "TemplateLimitError",
    "dumps_format",
    "import_chat_template",
    "load_chat_template",
    "load_format_file",
    "parse_format_text",
]
