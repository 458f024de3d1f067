"""The turn graph: state, edges, model tiers and the builder."""
