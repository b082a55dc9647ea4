"""Safe decoders for the formats manifests come in, each reporting the failing line.

Nothing here executes input: YAML uses the safe loader (no tags that build
objects), XML goes through defusedxml (no entity expansion, no external
entities), and JSON and TOML are data-only formats.
"""

import json
import re
import tomllib
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import yaml
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from wump.ingest.parsers.base import ManifestError

_TOML_AT_LINE = re.compile(r"\s*\(at line (\d+), column \d+\)$")
_XML_POSITION = re.compile(r":\s*line \d+, column \d+$")
# The C loader is several times faster on big lockfiles; both are safe.
SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_json(path: str, text: str) -> dict[str, Any]:
    """A JSON object (an empty file counts as `{}`)."""
    if not text.strip():
        return {}
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(path, f"invalid JSON: {exc.msg}", line=exc.lineno) from None
    except RecursionError:
        raise ManifestError(path, "invalid JSON: nested too deeply") from None
    if not isinstance(document, dict):
        raise ManifestError(path, "expected a JSON object at the top level")
    return document


def load_toml(path: str, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_AT_LINE.search(message)
        line = getattr(exc, "lineno", None) or (int(found.group(1)) if found else None)
        raise ManifestError(
            path, f"invalid TOML: {_TOML_AT_LINE.sub('', message)}", line=line
        ) from None


def load_yaml_documents(path: str, text: str) -> list[Any]:
    """Every YAML document in the file (pnpm 10 writes two)."""
    try:
        return list(yaml.load_all(text, Loader=SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = ": ".join(str(part) for part in (exc.context, exc.problem) if part)
        line = mark.line + 1 if mark is not None else None
        raise ManifestError(path, f"invalid YAML: {message}", line=line) from None
    except yaml.YAMLError as exc:
        raise ManifestError(path, f"invalid YAML: {exc}") from None


def load_yaml(path: str, text: str) -> object:
    """The first YAML document, or None for an empty file."""
    documents = load_yaml_documents(path, text)
    return documents[0] if documents else None


def load_xml(path: str, text: str) -> Element | None:
    """Parse XML without expanding entities, namespaces dropped from tags; None if empty."""
    if not text.strip():
        return None
    try:
        root = fromstring(text)
    except ParseError as exc:
        message = _XML_POSITION.sub("", str(exc))
        raise ManifestError(path, f"invalid XML: {message}", line=exc.position[0]) from None
    except DefusedXmlException as exc:
        raise ManifestError(path, f"refused unsafe XML: {exc!r}") from None
    for element in root.iter():
        element.tag = element.tag.rpartition("}")[2]
    return root
