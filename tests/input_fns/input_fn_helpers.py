"""Helpers of the input_fns tests: docstring examples, and Estimators that train the same way."""

import pathlib
import textwrap

import tensorflow as tf

from tfest_adapters._core import seeding

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]

# The seed of the Estimators the tests train.
SEED = 1


def run_docstring_example(function, monkeypatch, capsys):
  """Runs the example of ``function``'s docstring from the repo root; returns what it printed."""
  code = textwrap.dedent(function.__doc__.split('```python\n')[1].split('```')[0])
  monkeypatch.chdir(REPO_ROOT)
  exec(compile(code, function.__name__ + ' example', 'exec'), {})
  return capsys.readouterr().out


def seeded_estimator(model_fn, model_dir, seed=SEED):
  """A ``tf.estimator.Estimator`` of ``model_fn`` (taking params) that starts from fixed weights.

  ``RunConfig(tf_random_seed=...)`` seeds the graph, but not Keras' initializer seeds, which
  ``tf.compat.v1.layers`` draw from a generator shared by the whole process: the model_fn
  also resets them (``seed_graph``), so the result does not depend on the tests run before.
  """

  def seeded_model_fn(features, labels, mode, params):
    seeding.seed_graph(seed)
    return model_fn(features, labels, mode, params)

  return tf.estimator.Estimator(
    seeded_model_fn, str(model_dir), params={}, config=tf.estimator.RunConfig(tf_random_seed=seed)
  )
