"""The Estimator: make_estimator, run config and placement, the kept training session."""
