"""One step of the turn per module."""
