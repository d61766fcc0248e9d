"""Fixing: the remedies findings carry become a plan of edits (data); one engine diffs,
journals, applies and rolls back. See DESIGN.md "Fixing"."""
