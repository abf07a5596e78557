"""Coherence rules: a letter's printed facts hold together on its date (issue 16, docs/letters.md).

Upstream computes; comms proves that what a letter prints holds together (dates, sums,
references) and refuses it otherwise, naming the rule and the field, never the value. Each
document type lists its rules in its own module (`DocType.rules`, comms/doctypes/); this package
holds what they share: the vocabulary and calendar (`base`), the arrears rules of reminders and
formal notices (`arrears`), the contribution calculation (`calculation`), and the check the
composer runs (`letter`). Only `letter` imports the document types (to find an event's
rules); the document types import `base`, `arrears` and `calculation`, never `letter`.
"""
