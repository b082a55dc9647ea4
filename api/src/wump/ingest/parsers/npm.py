"""npm parsers."""

from wump.ingest.parsers.base import Parser

PARSERS: tuple[Parser, ...] = ()
