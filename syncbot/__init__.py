"""syncbot: keep directory accounts in step with the HR roster, and audit every change."""

__version__ = "0.1.0"
