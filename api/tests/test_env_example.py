"""`.env.example` documents every setting, with its real default."""

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from wump.core.config import Settings

ENV_EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"


def _env_names(model: type[BaseModel], prefix: str = "") -> list[str]:
    names: list[str] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names += _env_names(annotation, f"{prefix}{name.upper()}__")
        else:
            names.append(prefix + name.upper())
    return names


def _documented() -> list[str]:
    text = ENV_EXAMPLE.read_text()
    return re.findall(r"^(?:# )?([A-Z][A-Z0-9_]+)=", text, re.MULTILINE)


def test_every_setting_is_documented_once() -> None:
    documented = _documented()
    expected = _env_names(Settings)

    assert sorted(set(expected) - set(documented)) == []
    assert sorted(set(documented) - set(expected)) == []
    assert sorted({name for name in documented if documented.count(name) > 1}) == []


def test_documented_values_are_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _env_names(Settings):
        monkeypatch.delenv(name, raising=False)

    assert Settings(_env_file=ENV_EXAMPLE) == Settings(_env_file=None)
