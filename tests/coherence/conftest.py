"""The composer over the real templates, as the rendering tests use it."""

from tests.compose.conftest import composer

__all__ = ["composer"]
