import logging

import structlog


def wump_formatter() -> logging.Formatter:
    """The formatter `configure_logging` installed (pytest adds handlers of its own)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, structlog.stdlib.ProcessorFormatter):
            return handler.formatter
    raise LookupError("configure_logging has not run")
