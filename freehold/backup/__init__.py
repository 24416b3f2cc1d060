"""Backups: encrypted, incremental snapshots of the data folder, proven by restores.

``schedule`` installs the daily job that runs them, ``daily`` is that job (it also checks the
exit plan).
"""
