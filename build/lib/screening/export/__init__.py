"""Exports care managers act on. Files are owner-only and appear whole (temp name, then rename)."""
