"""Importers: one module per source, each with ``detect(path)`` and ``iter_conversations(path)``."""
