"""Backups: encrypted, incremental snapshots of the data folder, proven by restores.

``schedule`` installs the daily job that runs them (and checks the exit plan).
"""
