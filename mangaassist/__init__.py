"""MangaAssist: a bilingual shopping assistant for an online manga store."""

__version__ = "0.1.0"
