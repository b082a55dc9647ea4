from tests.packages.conftest import app

__all__ = ["app"]
