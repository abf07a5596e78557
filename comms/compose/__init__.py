"""Rendering: (event, language) into a frozen PDF letter, an email and an eBox subject."""

from comms.compose.catalogue import CATALOGUE, TEMPLATE_FILES, DocType
from comms.compose.composer import Composer, Rendered
from comms.compose.pdf import WindowLayout

__all__ = ["CATALOGUE", "TEMPLATE_FILES", "Composer", "DocType", "Rendered", "WindowLayout"]
