"""Backups: encrypted, incremental snapshots of the data folder, checked by real restores.

A snapshot covers ``archive.sqlite`` (copied consistently by SQLite's backup API while it may
be in use), ``blobs/`` and ``vault/``. Every file is cut into chunks (16 KiB for the
database, whose pages stay where they are from one snapshot to the next; 1 MiB for
attachments), each chunk gzip-compressed on its own, and new chunks are gathered into packs
of about 8 MiB, each pack one age file for the user's recipients, named at random. A
snapshot's manifest (an age file too) lists the packs, every file and where each chunk of it
lies. docs/backups.md is the format, and a recipe that restores with ``age`` and a shell.

Modules: ``format`` (manifest and chunks), ``crypto`` (identity, passphrase, kit, age),
``settings`` (``[backup]`` in config.toml), ``state`` (what this machine knows: runs,
verifies, drills, which chunk lies in which pack), ``destinations`` (a folder, or any rclone
remote), ``scratch`` (plaintext work space removed however the process ends), ``snapshot``,
``run``, ``verify``, ``restore`` (and the drill), ``prune``, ``status``; ``schedule``
installs the daily job that runs them, and ``daily`` is that job (it also checks the exit
plan).
"""
