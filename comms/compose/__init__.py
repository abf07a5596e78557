"""Rendering: (event, language) into a frozen PDF letter, an email and an eBox subject."""

from comms.compose.catalogue import TEMPLATE_FILES
from comms.compose.composer import Composer, Rendered
from comms.compose.pdf import WindowLayout

__all__ = ["TEMPLATE_FILES", "Composer", "Rendered", "WindowLayout"]
