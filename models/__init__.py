"""Model side: model_fn builders and templates, and the spec rules they follow."""
