"""Where fit keeps the best evaluated checkpoint in a model_dir, for serving to find it."""

import os

BEST_DIR = 'best_checkpoint'
BEST_FILE = 'best.json'
BEST = 'best'  # checkpoint_path='best' of export_saved_model and Predictor.from_estimator.


def directory(model_dir):
  """The directory of the best checkpoint's copy: ``<model_dir>/best_checkpoint``."""
  return os.path.join(model_dir, BEST_DIR)


def latest(model_dir):
  """The prefix of the best checkpoint fit kept in ``model_dir``, or None."""
  import tensorflow as tf

  return tf.train.latest_checkpoint(directory(model_dir))
