"""Lowest layer: validation, model_fn calls, seeding, and the group-of-batches format."""
