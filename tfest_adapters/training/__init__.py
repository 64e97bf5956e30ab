"""Training: fit and its callbacks, guards, the model_dir lock, History, train_and_evaluate."""
