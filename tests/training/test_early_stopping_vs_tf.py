"""fit's early stopping against tf.estimator.experimental.stop_if_no_decrease_hook.

docs/fidelity.md says: with evaluations every E steps and min_delta=0, ``patience=P`` stops at
the evaluation where TF's hook with ``max_steps_without_decrease=P*E`` would. Both read the same
evaluations here (TF's from eval event files, as it does).
"""

import pytest
import tensorflow as tf

from conftest import boring_model_fn
from tfest_adapters.training import _callbacks

EVERY = 10  # Steps between evaluations.


def _tfs_stop(losses, patience, tmp_path):
  """The index of the evaluation after which TF's hook stops training, or None."""
  estimator = tf.estimator.Estimator(boring_model_fn, str(tmp_path / 'tf'))
  hook = tf.estimator.experimental.stop_if_no_decrease_hook(estimator, 'loss', patience * EVERY)
  with tf.Graph().as_default():  # TF's v1 FileWriter, as the Estimator writes eval events.
    writer = tf.compat.v1.summary.FileWriter(estimator.eval_dir())
    try:
      for i, loss in enumerate(losses):
        summary = tf.compat.v1.Summary(
          value=[tf.compat.v1.Summary.Value(tag='loss', simple_value=loss)]
        )
        writer.add_summary(summary, (i + 1) * EVERY)
        writer.flush()
        if hook._should_stop_fn():
          return i
    finally:
      writer.close()
  return None


def _fits_stop(losses, patience):
  stopping = _callbacks.EarlyStopping.from_arg(dict(metric='loss', patience=patience))
  for i, loss in enumerate(losses):
    if stopping.update(loss):
      return i
  return None


@pytest.mark.parametrize(
  'losses, patience, expected',
  [
    ([5.0, 4.0, 3.0, 2.0, 1.0], 1, None),  # Always better.
    ([5.0, 4.0, 4.5, 4.2, 3.0], 2, 3),  # Two evaluations without a new best.
    ([5.0, 4.0, 4.5, 3.5, 3.6, 3.7, 3.8], 3, 6),
    ([5.0, 5.0, 5.0], 1, 1),  # Equal is no improvement, for both.
    ([5.0, 6.0, 4.0, 7.0, 8.0], 2, 4),
  ],
)
def test_patience_in_evaluations_stops_where_tfs_hook_stops(losses, patience, expected, tmp_path):
  assert _fits_stop(losses, patience) == expected
  assert _tfs_stop(losses, patience, tmp_path) == expected
