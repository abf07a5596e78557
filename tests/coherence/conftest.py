"""The composer over the real templates and the pipeline's stand-ins, as their own tests use them."""

from tests.compose.conftest import composer
from tests.pipeline.conftest import embedded

__all__ = ["composer", "embedded"]
