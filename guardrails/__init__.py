"""Input safety and the output guardrail chain."""
