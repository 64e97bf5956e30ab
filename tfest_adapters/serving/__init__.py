"""Serving: export receivers, export_saved_model and the Predictor."""
