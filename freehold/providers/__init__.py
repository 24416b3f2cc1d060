"""Provider families, one module each (``base.py`` says what they share); plugins add more
through the ``register_providers`` hook."""
