"""The one error the model layer raises for things a person can fix."""

from __future__ import annotations


class ModelError(Exception):
    """A model file cannot be used; the message names the file and says what to do."""
