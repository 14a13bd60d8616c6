"""Renderers: report summaries to JSON (the contract), a text table, and later CSV/MD/HTML."""
