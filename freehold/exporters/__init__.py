"""Exporters: one module per format, the format name is the module name, each with ``write``."""
