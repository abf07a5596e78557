"""The template files every document type has, in each language folder."""

from __future__ import annotations

TEMPLATE_FILES = ("letter.html", "email.html", "email.txt", "subject.txt", "ebox_subject.txt")
