"""fit: chunked training with exact evaluations, early stopping, best checkpoint, traps."""

import io
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import boring_input_fn
from conftest import boring_model_fn
from conftest import small_arrays
import tfest_adapters as tfa
from tfest_adapters import exceptions
from tfest_adapters.training import _callbacks
from tfest_adapters.training import _fit_loop

FEATURES, LABELS = small_arrays()
TRAIN = boring_input_fn(FEATURES, LABELS)
EVAL = boring_input_fn(FEATURES, LABELS, batch_size=32, repeat=False)


@pytest.fixture(scope='module')
def fitted(tmp_path_factory):
  """30 steps, evaluated every 10, early stopping armed (patience 5: never fires)."""
  model_dir = str(tmp_path_factory.mktemp('fit') / 'model')
  est = tfa.make_estimator(boring_model_fn, params={}, model_dir=model_dir, seed=0)
  history = tfa.fit(
    est,
    TRAIN,
    max_steps=30,
    eval_input_fn=EVAL,
    eval_every_steps=10,
    early_stopping=dict(metric='loss', patience=5),
    progress=False,
  )
  return est, history


def test_history_has_every_step_and_evaluations_at_exact_steps(fitted):
  _, history = fitted
  assert list(history.train['step']) == list(range(1, 31))
  assert np.all(np.isfinite(history.train['loss']))
  assert list(history.eval['step']) == [10, 20, 30]
  assert {'eval_loss', 'eval_accuracy'} <= set(history.eval_columns)
  assert not history.stopped_early
  # Loss goes down on this separable data.
  assert history.eval['eval_loss'].iloc[-1] < history.eval['eval_loss'].iloc[0]


def test_evaluations_are_of_exactly_that_steps_checkpoint(fitted):
  est, history = fitted
  again = est.evaluate(EVAL, checkpoint_path=os.path.join(est.model_dir, 'model.ckpt-20'))
  row = history.eval[history.eval['step'] == 20].iloc[0]
  assert again['global_step'] == 20
  assert again['loss'] == pytest.approx(row['eval_loss'], rel=1e-6)
  assert again['accuracy'] == pytest.approx(row['eval_accuracy'])


def test_best_checkpoint_is_kept_aside_and_restorable(fitted):
  est, history = fitted
  evals = history.eval
  best_row = evals.loc[evals['eval_loss'].idxmin()]
  assert history.best_step == int(best_row['step'])
  assert history.best_metrics['loss'] == pytest.approx(best_row['eval_loss'])
  best_dir = os.path.join(est.model_dir, _callbacks.BEST_DIR)
  assert history.best_checkpoint == os.path.join(best_dir, 'model.ckpt-%d' % history.best_step)
  assert tf.train.latest_checkpoint(best_dir) == history.best_checkpoint
  restored = est.evaluate(EVAL, checkpoint_path=history.best_checkpoint)
  assert restored['global_step'] == history.best_step
  assert restored['loss'] == pytest.approx(history.best_metrics['loss'], rel=1e-6)


def test_early_stopping_stops_after_patience_evaluations(tmp_path):
  # A learning rate of 0: the eval loss never improves after the first evaluation.
  est = tfa.make_estimator(
    boring_model_fn, params={'learning_rate': 0.0}, model_dir=tmp_path, seed=0
  )
  history = tfa.fit(
    est,
    TRAIN,
    max_steps=1000,
    eval_input_fn=EVAL,
    eval_every_steps=4,
    early_stopping=dict(metric='loss', patience=1, min_delta=1e-6),
    progress=False,
  )
  assert history.stopped_early
  assert list(history.eval['step']) == [4, 8]
  assert history.best_step == 4
  assert est.get_variable_value('global_step') == 8


def test_steps_continue_from_the_checkpoint_and_history_continues(tmp_path):
  est = tfa.make_estimator(
    boring_model_fn, params={}, model_dir=tmp_path, seed=0, save_summary_steps=1
  )
  first = tfa.fit(est, TRAIN, steps=3, progress=False)
  second = tfa.fit(est, TRAIN, steps=2, progress=False)
  assert list(first['step']) == [1, 2, 3]
  assert list(second['step']) == [1, 2, 3, 4, 5]
  np.testing.assert_allclose(second['loss'][:3], first['loss'], rtol=1e-6)


def test_input_running_out_before_max_steps_warns_and_stops(tmp_path):
  est = tfa.make_estimator(boring_model_fn, params={}, model_dir=tmp_path, seed=0)
  with pytest.warns(
    UserWarning, match='train_input_fn ran out of data at global step 4, before step 100'
  ):
    history = tfa.fit(
      est, boring_input_fn(FEATURES, LABELS, repeat=False), max_steps=100, progress=False
    )
  assert history['step'].iloc[-1] == 4


def _no_step_model_fn(features, labels, mode, params):
  """Trains without incrementing the global step: Estimator.train(max_steps) never ends."""
  del params
  x = tf.stack([features['f%d' % i] for i in range(4)], axis=1)
  logits = tf.compat.v1.layers.dense(x, 3)
  loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
  train_op = tf.compat.v1.train.GradientDescentOptimizer(0.1).minimize(loss)
  return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


@pytest.mark.parametrize(
  'make, error, match, checkpoint',
  [
    # make_estimator's Estimator checks the spec: refused when the graph is built, before any
    # session, so not even TF's untrained ckpt-0 is written.
    (
      tfa.make_estimator,
      exceptions.SpecError,
      r'TRAIN spec train_op does not increment the global step, so train\(steps=N\) would '
      r'never stop',
      None,
    ),
    # TF's own Estimator: fit's step recorder stops it after 10 steps.
    (
      lambda model_fn, model_dir: tf.estimator.Estimator(model_fn, str(model_dir)),
      exceptions.TrainingError,
      r'The global step did not advance in 10 training steps \(it stayed '
      r'at 0\).*Pass global_step=tf.compat.v1.train.get_global_step\(\)',
      'model.ckpt-0',
    ),
  ],
  ids=['make_estimator', 'tf_estimator'],
)
def test_global_step_not_advancing_fails_fast(tmp_path, make, error, match, checkpoint):
  est = make(_no_step_model_fn, model_dir=tmp_path)
  with pytest.raises(error, match=match):
    tfa.fit(est, TRAIN, max_steps=5, progress=False)
  # At most TF's untrained ckpt-0 of a fresh model_dir, from the session's start.
  expected = None if checkpoint is None else str(tmp_path / checkpoint)
  assert tf.train.latest_checkpoint(str(tmp_path)) == expected


@pytest.fixture(scope='module')
def untrained(tmp_path_factory):
  return tfa.make_estimator(
    boring_model_fn, params={}, model_dir=str(tmp_path_factory.mktemp('untrained'))
  )


@pytest.mark.parametrize(
  'kwargs, error, match',
  [
    (
      dict(steps=5, max_steps=10),
      exceptions.ArgumentError,
      'steps and max_steps cannot both be given, given: steps=5, max_steps=10',
    ),
    (dict(steps=0), exceptions.ArgumentError, 'steps must be a positive int, given: 0'),
    (
      dict(max_steps=10, eval_every_steps=5),
      exceptions.ArgumentError,
      'eval_input_fn must be given when eval_every_steps is',
    ),
    (
      dict(max_steps=10, eval_input_fn=EVAL, early_stopping=dict(patience=1)),
      exceptions.ArgumentError,
      'eval_every_steps must be given with early_stopping',
    ),
    (
      dict(eval_input_fn=EVAL, eval_every_steps=5),
      exceptions.ArgumentError,
      'steps or max_steps must be given with eval_every_steps',
    ),
    (
      dict(
        max_steps=10,
        eval_input_fn=EVAL,
        eval_every_steps=5,
        early_stopping=dict(metric='accuracy', patience=2),
      ),
      exceptions.ArgumentError,
      r"early_stopping\['mode'\] must be 'min' or 'max', given: None. Say whether a larger "
      "'accuracy' is better",
    ),
    (
      dict(
        max_steps=10,
        eval_input_fn=EVAL,
        eval_every_steps=5,
        early_stopping=dict(patience=2, patience_steps=3),
      ),
      exceptions.ArgumentError,
      'early_stopping must be a dict with keys among metric, patience, min_delta, mode.*'
      'Unknown: patience_steps',
    ),
    (
      dict(
        max_steps=10, eval_input_fn=EVAL, eval_every_steps=5, early_stopping=dict(metric='loss')
      ),
      exceptions.ArgumentError,
      r"early_stopping\['patience'\] must be given",
    ),
    (
      dict(
        max_steps=10,
        eval_input_fn=EVAL,
        eval_every_steps=5,
        early_stopping=dict(metric='auc', patience=1, mode='max'),
      ),
      exceptions.ArgumentKeyError,
      r"early_stopping\['metric'\] must be one of the metrics the evaluation returns "
      r"\(accuracy, global_step, loss\), given: 'auc'",
    ),
    (dict(max_steps=10, progress='yes'), exceptions.ArgumentTypeError, 'progress must be a bool'),
  ],
)
def test_bad_arguments_are_refused_before_training(untrained, kwargs, error, match):
  with pytest.raises(error, match=match):
    tfa.fit(untrained, TRAIN, **kwargs)
  assert not os.path.exists(untrained.model_dir) or not os.listdir(untrained.model_dir)


def test_progress_is_off_in_ci_and_without_a_terminal(monkeypatch):
  class Tty(io.StringIO):
    def isatty(self):
      return True

  monkeypatch.delenv('CI', raising=False)
  assert _callbacks.progress_enabled(True, Tty())
  assert not _callbacks.progress_enabled(False, Tty())
  assert not _callbacks.progress_enabled(True, io.StringIO())
  monkeypatch.setenv('CI', 'true')
  assert not _callbacks.progress_enabled(True, Tty())


def test_progress_bar_shows_step_loss_and_rate(tmp_path, monkeypatch):
  class Tty(io.StringIO):
    def isatty(self):
      return True

  stream = Tty()
  monkeypatch.delenv('CI', raising=False)
  monkeypatch.setattr('sys.stderr', stream)
  est = tfa.make_estimator(boring_model_fn, params={}, model_dir=tmp_path, seed=0)
  tfa.fit(est, TRAIN, max_steps=6, eval_input_fn=EVAL, progress=True)
  text = stream.getvalue()
  assert '6/6' in text and 'step/s' in text
  assert 'loss=' in text and 'eval_accuracy=' in text


def test_extension_points_contexts_hooks_and_saving_listeners(tmp_path):
  events = []

  class Context:
    def __init__(self, loop):
      events.append(('built', loop.model_dir))

    def __enter__(self):
      events.append('enter')

    def __exit__(self, *exc_info):
      events.append(('exit', exc_info[0]))

  class Listener(tf.estimator.CheckpointSaverListener):
    def after_save(self, session, global_step_value):
      events.append(('saved', int(global_step_value)))

  est = tfa.make_estimator(boring_model_fn, params={}, model_dir=tmp_path, seed=0)
  loop = _fit_loop.FitLoop(est, TRAIN, max_steps=3, progress=False)
  loop.contexts.append(Context)
  loop.saving_listeners.append(Listener())
  history = loop.run()
  assert events[:2] == [('built', str(tmp_path)), 'enter']
  assert events[-1] == ('exit', None)
  assert ('saved', 3) in events
  assert list(history['step']) == [1, 2, 3]
