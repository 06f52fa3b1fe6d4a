"""promptfmt: validate instruction records, render them byte-exact in a model's prompt style, parse them back."""

from .batch import BatchError, messages_batch, parse_batch, render_batch
from .conversation import Conversation, ConversationRefused, Message, RenderedConversation, Segment
from .conversion import ConvertSummary, ConvertUsageError, convert
from .detect import Detection, detect_format
from .errors import (
    DataError,
    DuplicateFormatError,
    FormatDefinitionError,
    ParseError,
    PluginError,
    PromptfmtError,
    UnknownFormatError,
    UsageError,
)
from .format import Format, Match
from .models import Loss, LossReason, Query, Record, Rendered, Verdict
from .plugins import FormatRegistry, build_registry, hookimpl, load_registry, make_plugin_manager
from .records.mapping import FieldMapping
from .splitting import Fractions, split
from .templating import (
    ChatTemplate,
    ChatTurns,
    Template,
    TemplateFormat,
    TemplateImportError,
    dumps_format,
    import_chat_template,
    load_chat_template,
    load_format_file,
)
from .validation import Checked, Issue, Report, Validator, validate

__version__ = "0.1.0"

__all__ = [
    "ChatTurns",
    "Segment",
    "RenderedConversation",
    "Message",
    "ConversationRefused",
    "Conversation",
    "__version__",
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
    "UsageError",
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
