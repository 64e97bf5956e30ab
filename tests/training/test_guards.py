"""Guards: non-finite loss and inputs, the save veto, no re-save, other models, signals."""

import os
import signal
import threading

import numpy as np
import pytest
import tensorflow as tf
from test_crash_resume import checkpoint_step
from test_crash_resume import read_line
from test_crash_resume import start_child

from conftest import boring_input_fn
from conftest import boring_model_fn
from conftest import small_arrays
import tfest_adapters as tfa
from tfest_adapters import estimator as estimator_lib
from tfest_adapters import exceptions
from tfest_adapters._core import groups
from tfest_adapters.training import _fit_loop
from tfest_adapters.training import _lock
from tfest_adapters.training import _nan_guard
from tfest_adapters.training import _numerics

FEATURES, LABELS = small_arrays()
TRAIN = boring_input_fn(FEATURES, LABELS)


def _with_nan(features, key, row):
  features = dict(features)
  column = features[key].copy()
  column[row] = np.nan
  features[key] = column
  return features


def _nan_from_step(step, value=np.nan):
  """boring_model_fn whose loss is ``value`` from the run that reaches global step ``step``."""

  def model_fn(features, labels, mode, params):
    spec = boring_model_fn(features, labels, mode, params)
    if mode != tf.estimator.ModeKeys.TRAIN:
      return spec
    global_step = tf.compat.v1.train.get_global_step()
    loss = spec.loss * tf.where(global_step >= step - 1, tf.constant(value, tf.float32), 1.0)
    train_op = tf.compat.v1.train.GradientDescentOptimizer(0.1).minimize(
      loss, global_step=global_step
    )
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)

  return model_fn


def _files(directory):
  """{name: (size, mtime_ns)} of every file under ``directory``."""
  found = {}
  for root, _, names in os.walk(directory):
    for name in names:
      path = os.path.join(root, name)
      stat = os.stat(path)
      found[os.path.relpath(path, directory)] = (stat.st_size, stat.st_mtime_ns)
  return found


def _checkpoint_files(directory):
  return {k: v for k, v in _files(directory).items() if 'tfevents' not in k}


# ---------------------------------------------------------------------------- non-finite


def test_tf_alone_saves_a_nan_step_as_the_latest_checkpoint(tmp_path):
  """The trap the guard closes: the saver hook runs before TF's own NanTensorHook."""
  est = tf.estimator.Estimator(
    _nan_from_step(10),
    model_dir=str(tmp_path),
    params={},
    config=tf.estimator.RunConfig(save_checkpoints_steps=5),
  )
  with pytest.raises(tf.compat.v1.train.NanLossDuringTrainingError):
    est.train(TRAIN, max_steps=30)
  latest = tf.train.latest_checkpoint(str(tmp_path))
  assert latest.endswith('model.ckpt-10')
  kernel = tf.train.load_variable(latest, 'logits/kernel')
  assert np.isnan(kernel).all()


def test_nan_just_before_a_save_is_not_saved_and_the_last_good_checkpoint_restores(tmp_path):
  est = tfa.make_estimator(
    _nan_from_step(10), params={}, model_dir=tmp_path, seed=0, save_checkpoints_steps=5
  )
  with pytest.raises(
    exceptions.TrainingError,
    match=r'The training loss was NaN at global step 10\. Training stopped, '
    r'and nothing from that step on was saved: the latest checkpoint, '
    r'.*model\.ckpt-5 \(step 5\), is intact\. The batch\'s features and '
    r'labels were all finite: the model diverged',
  ):
    tfa.fit(est, TRAIN, max_steps=30, progress=False)
  latest = tf.train.latest_checkpoint(str(tmp_path))
  assert latest.endswith('model.ckpt-5')
  assert not any('ckpt-10' in name for name in os.listdir(tmp_path))
  assert np.isfinite(tf.train.load_variable(latest, 'logits/kernel')).all()
  # The model_dir goes on with a healthy model_fn from step 5.
  healthy = tfa.make_estimator(
    boring_model_fn, params={}, model_dir=tmp_path, seed=0, save_checkpoints_steps=5
  )
  history = tfa.fit(healthy, TRAIN, max_steps=8, progress=False)
  assert list(history.train['step'])[-3:] == [6, 7, 8]


def _regression_model_fn(features, labels, mode, params):
  del params
  x = tf.stack([features['f%d' % i] for i in range(4)], axis=1)
  predictions = tf.squeeze(tf.compat.v1.layers.dense(x, 1), 1)
  if mode == tf.estimator.ModeKeys.PREDICT:
    return tf.estimator.EstimatorSpec(mode, predictions=predictions)
  loss = tf.compat.v1.losses.mean_squared_error(labels, predictions)
  train_op = tf.compat.v1.train.GradientDescentOptimizer(0.01).minimize(
    loss, global_step=tf.compat.v1.train.get_global_step()
  )
  return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


def _overflowing_model_fn(features, labels, mode, params):
  """A finite loss whose first update overflows the variables."""
  del params
  x = tf.stack([features['f%d' % i] for i in range(4)], axis=1)
  logits = tf.compat.v1.layers.dense(x, 3, name='logits')
  loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
  train_op = tf.compat.v1.train.GradientDescentOptimizer(1e38).minimize(
    loss * 1e10, global_step=tf.compat.v1.train.get_global_step()
  )
  return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


def _nan_labels():
  labels = LABELS.astype(np.float32)
  labels[0] = np.nan
  return labels


# Row 40 of f1 is in the third batch of 16 (global step 3).
_NAN_F1 = boring_input_fn(_with_nan(FEATURES, 'f1', 40), LABELS)


@pytest.mark.parametrize(
  'model_fn, estimator_kwargs, train, fit_kwargs, match, saved',
  [
    pytest.param(
      _nan_from_step(7, np.inf),
      dict(params={}, save_checkpoints_steps=5),
      TRAIN,
      dict(max_steps=30),
      r'The training loss was \+Inf at global step 7\. .*model\.ckpt-5 \(step 5\), is intact',
      5,
      id='inf_loss_between_saves_names_the_step',
    ),
    pytest.param(
      boring_model_fn,
      dict(params={}, save_checkpoints_steps=2),
      _NAN_F1,
      dict(max_steps=30),
      r'loss was NaN at global step 3\..*model\.ckpt-2 \(step 2\), is intact\. The batch '
      r"held non-finite values in features\['f1'\] \(labels were finite\)",
      2,
      id='non_finite_features_are_named',
    ),
    # A fresh model_dir: only the untrained model.ckpt-0 that TF's saver writes at the start.
    pytest.param(
      _regression_model_fn,
      dict(params={}),
      boring_input_fn(FEATURES, _nan_labels()),
      dict(max_steps=30),
      r'loss was NaN at global step 1\. .*the latest checkpoint, .*model\.ckpt-0 \(step 0\), '
      r'is intact\. The batch held non-finite values in labels \(features were finite\)',
      0,
      id='non_finite_labels_are_named',
    ),
    pytest.param(
      boring_model_fn,
      dict(params={}, save_checkpoints_steps=2),
      _NAN_F1,
      dict(max_steps=30, check_numerics=True),
      r"check_numerics: features\['f1'\] held NaN values in the batch of global step 3\. "
      r'The step was not taken and nothing after it was saved: the latest checkpoint, '
      r'.*model\.ckpt-2 \(step 2\), is intact',
      2,
      id='check_numerics_stops_before_the_step_naming_the_feature',
    ),
    pytest.param(
      _overflowing_model_fn,
      dict(save_checkpoints_steps=1),
      TRAIN,
      dict(max_steps=5),
      r"The model's variables held non-finite values at global step 1, so they were not "
      r'saved: the latest checkpoint, .*model\.ckpt-0 \(step 0\), is intact',
      0,
      id='variables_overflowing_with_a_finite_loss_are_not_saved',
    ),
  ],
)
def test_a_non_finite_step_stops_training_and_is_not_saved(
  tmp_path, model_fn, estimator_kwargs, train, fit_kwargs, match, saved
):
  est = tfa.make_estimator(model_fn, model_dir=tmp_path, **estimator_kwargs)
  with pytest.raises(exceptions.TrainingError, match=match):
    tfa.fit(est, train, progress=False, **fit_kwargs)
  assert checkpoint_step(str(tmp_path)) == saved


def test_check_numerics_input_fn_keeps_structure_and_arguments():
  def input_fn(params, input_context=None):
    del params, input_context
    return tf.data.Dataset.from_tensor_slices(
      ({'x': [1.0, np.inf], 'n': [1, 2]}, [0.5, 0.5])
    ).batch(1)

  checked = _numerics.check_numerics_input_fn(input_fn)
  from tensorflow.python.util import function_utils

  assert {'params', 'input_context'} <= set(function_utils.fn_args(checked))
  dataset = checked(params={})
  assert dataset.element_spec == input_fn({}).element_spec
  iterator = iter(dataset)
  features, labels = next(iterator)
  assert float(features['x'][0]) == 1.0 and int(features['n'][0]) == 1
  with pytest.raises(
    tf.errors.InvalidArgumentError,
    match=r"tfest check_numerics: features\['x'\] : Tensor had Inf values",
  ):
    next(iterator)
  del labels


def test_train_and_evaluate_vetoes_a_nan_save_with_tfs_own_saver(tmp_path):
  est = tfa.make_estimator(
    _nan_from_step(10), params={}, model_dir=tmp_path, save_checkpoints_steps=5
  )
  evaluation = boring_input_fn(FEATURES, LABELS, batch_size=64, repeat=False)
  with pytest.raises(
    exceptions.TrainingError,
    match=r'loss was NaN at global step 10\. .*model\.ckpt-5 \(step 5\), '
    r'is intact',
  ):
    tfa.train_and_evaluate(est, TRAIN, evaluation, max_steps=30)
  assert checkpoint_step(str(tmp_path)) == 5
  assert _lock.holder(str(tmp_path)) is None


def test_a_step_failing_on_its_data_names_the_step_and_the_op(tmp_path):
  est = tfa.make_estimator(boring_model_fn, params={}, model_dir=tmp_path)
  with pytest.raises(
    exceptions.TrainingError,
    match=r'Training step 1 failed: InvalidArgumentError: Received a label '
    r'value of 3 which is outside the valid range of \[0, 3\)\..* \(op '
    r'sparse_softmax_cross_entropy_loss/xentropy/xentropy\)\. Nothing from '
    r'that step on was saved: the latest checkpoint, .*model\.ckpt-0 \(step 0\), is intact',
  ) as info:
    tfa.fit(est, boring_input_fn(FEATURES, LABELS + 1), max_steps=10, progress=False)
  assert isinstance(info.value.__cause__, tf.errors.InvalidArgumentError)


# ------------------------------------------------------------------------------ saving


def test_resumed_fit_does_not_rewrite_the_restored_checkpoint(tmp_path):
  est = tfa.make_estimator(
    boring_model_fn, params={}, model_dir=tmp_path, seed=0, save_checkpoints_steps=100
  )
  tfa.fit(est, TRAIN, max_steps=3, progress=False)
  before = _checkpoint_files(str(tmp_path))
  assert sorted(k for k in before if k.startswith('model.ckpt')) == [
    'model.ckpt-0.data-00000-of-00001',  # TF's untrained checkpoint of a fresh model_dir.
    'model.ckpt-0.index',
    'model.ckpt-0.meta',
    'model.ckpt-3.data-00000-of-00001',
    'model.ckpt-3.index',
    'model.ckpt-3.meta',
  ]
  tfa.fit(est, TRAIN, max_steps=5, progress=False)
  after = _checkpoint_files(str(tmp_path))
  for name in ('model.ckpt-3.data-00000-of-00001', 'model.ckpt-3.index', 'model.ckpt-3.meta'):
    assert after[name] == before[name], name
  assert 'model.ckpt-5.index' in after and 'graph.pbtxt' in after
  assert checkpoint_step(str(tmp_path)) == 5


def test_a_first_step_failure_leaves_an_existing_model_dir_untouched(tmp_path):
  est = tfa.make_estimator(boring_model_fn, params={}, model_dir=tmp_path, seed=0)
  tfa.fit(est, TRAIN, max_steps=3, progress=False)
  before = _checkpoint_files(str(tmp_path))
  with pytest.raises(exceptions.TrainingError, match='held non-finite values'):
    tfa.fit(
      est, boring_input_fn(_with_nan(FEATURES, 'f0', 0), LABELS), max_steps=10, progress=False
    )
  assert _checkpoint_files(str(tmp_path)) == before


def test_user_saver_hook_replaces_the_safe_one(tmp_path):
  est = tfa.make_estimator(boring_model_fn, params={}, model_dir=tmp_path)
  saver = tf.compat.v1.train.CheckpointSaverHook(str(tmp_path), save_steps=2)
  loop = _fit_loop.FitLoop(est, TRAIN, max_steps=4, hooks=[saver], progress=False)
  assert not any(isinstance(h, estimator_lib.SafeCheckpointSaverHook) for h in loop.hooks)
  loop.run()
  assert checkpoint_step(str(tmp_path)) == 4


# ------------------------------------------------------------------------- other model


@pytest.fixture(scope='module')
def trained_dir(tmp_path_factory):
  model_dir = str(tmp_path_factory.mktemp('guards') / 'boring')
  est = tfa.make_estimator(boring_model_fn, params={}, model_dir=model_dir, seed=0)
  tfa.fit(est, TRAIN, max_steps=3, progress=False)
  return model_dir


@pytest.mark.parametrize(
  'model_fn, params, match',
  [
    pytest.param(
      tfa.classifier_model_fn,
      dict(feature_keys=sorted(FEATURES), hidden_units=[4], n_classes=3),
      r'model_dir .* holds a checkpoint of another model \(.*model\.ckpt-3\): it lacks 10 '
      r'variable\(s\) of this model: dnn/hiddenlayer_0/kernel \[4, 4\], .*\(4 more\)\. '
      r'Nothing was changed',
      id='another_model_naming_the_variables',
    ),
    pytest.param(
      boring_model_fn,
      {'n_classes': 4},
      r'2 differ: logits/kernel: float32 \[4, 3\] in the checkpoint, float32 \[4, 4\] in '
      r'the model, logits/bias: float32 \[3\] in the checkpoint, float32 \[4\] in the model',
      id='other_shapes',
    ),
  ],
)
def test_a_checkpoint_of_another_model_is_refused(trained_dir, model_fn, params, match):
  before = _checkpoint_files(trained_dir)
  est = tfa.make_estimator(model_fn, params=params, model_dir=trained_dir)
  with pytest.raises(exceptions.ModelDirError, match=match):
    tfa.fit(est, TRAIN, max_steps=10, progress=False)
  assert _checkpoint_files(trained_dir) == before


# ------------------------------------------------------------------------------ signals


class _SignalAtStep(tf.compat.v1.train.SessionRunHook):
  """Sends ``signum`` to this process after global step ``step`` (a real signal)."""

  def __init__(self, signum, step):
    self.signum = signum
    self.step = step
    self.steps = []

  def begin(self):
    self.global_step = tf.compat.v1.train.get_global_step()

  def after_run(self, run_context, run_values):
    step = int(run_context.session.run(self.global_step))
    self.steps.append(step)
    if step == self.step:
      os.kill(os.getpid(), self.signum)


# A shell without job control starts background commands with SIGINT ignored; an ignored
# signal is left alone on purpose (see SaveOnSignal), so there is nothing to test then.
_SIGINT_IGNORED = signal.getsignal(signal.SIGINT) == signal.SIG_IGN
_NEEDS_SIGINT = pytest.mark.skipif(
  _SIGINT_IGNORED,
  reason='SIGINT is ignored in this process (started in the background '
  'by a shell without job control)',
)


@_NEEDS_SIGINT
def test_sigint_saves_the_current_step_then_raises_keyboard_interrupt(tmp_path):
  before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
  est = tfa.make_estimator(
    boring_model_fn, params={}, model_dir=tmp_path, save_checkpoints_steps=1000
  )
  hook = _SignalAtStep(signal.SIGINT, 7)
  with pytest.raises(
    KeyboardInterrupt,
    match=r'SIGINT received: training stopped after saving, the latest '
    r'checkpoint, .*model\.ckpt-7 \(step 7\), holds every step',
  ):
    tfa.fit(est, TRAIN, max_steps=1000, hooks=[hook], progress=False)
  assert hook.steps[-1] == 7
  assert checkpoint_step(str(tmp_path)) == 7
  assert {s: signal.getsignal(s) for s in before} == before
  assert _lock.holder(str(tmp_path)) is None


def test_sigterm_saves_then_calls_the_previous_handler(tmp_path):
  calls = []

  def handler(signum, frame):
    del frame
    calls.append(signum)

  previous = signal.signal(signal.SIGTERM, handler)
  try:
    est = tfa.make_estimator(
      boring_model_fn, params={}, model_dir=tmp_path, save_checkpoints_steps=1000
    )
    history = tfa.fit(
      est, TRAIN, max_steps=1000, hooks=[_SignalAtStep(signal.SIGTERM, 4)], progress=False
    )
    assert calls == [signal.SIGTERM]
    assert history['step'].iloc[-1] == 4
    assert checkpoint_step(str(tmp_path)) == 4
    assert signal.getsignal(signal.SIGTERM) is handler
  finally:
    signal.signal(signal.SIGTERM, previous)


def test_fit_outside_the_main_thread_leaves_signals_alone(tmp_path):
  before = signal.getsignal(signal.SIGINT)
  seen = []
  est = tfa.make_estimator(boring_model_fn, params={}, model_dir=tmp_path)

  class Probe(tf.compat.v1.train.SessionRunHook):
    def after_run(self, run_context, run_values):
      seen.append(signal.getsignal(signal.SIGINT))

  thread = threading.Thread(
    target=lambda: tfa.fit(est, TRAIN, max_steps=2, hooks=[Probe()], progress=False)
  )
  thread.start()
  thread.join()
  assert seen == [before, before]
  assert checkpoint_step(str(tmp_path)) == 2


@pytest.mark.slow
@pytest.mark.parametrize(
  'signum',
  [signal.SIGTERM, pytest.param(signal.SIGINT, marks=_NEEDS_SIGINT)],
  ids=['SIGTERM', 'SIGINT'],
)
def test_a_signal_to_a_training_process_saves_its_current_step(tmp_path, signum):
  model_dir = str(tmp_path / 'model')
  proc = start_child(
    model_dir, 100000, '--save-steps', 100000, '--step-delay', 0.005, '--print-steps'
  )
  try:
    assert read_line(proc, 'start ') == '0'
    while int(read_line(proc, 'step ')) < 20:
      pass
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
  finally:
    proc.kill()
  steps = [int(line.split()[1]) for line in out.splitlines() if line.startswith('step ')]
  last = steps[-1] if steps else 20
  # The checkpoint is at the very step the process was in: nothing but that step's
  # remainder is lost.
  assert checkpoint_step(model_dir) == last
  assert last < 1000
  assert _lock.holder(model_dir) is None
  if signum == signal.SIGTERM:
    assert proc.returncode == -signal.SIGTERM, err[-2000:]
    assert 'SIGTERM received: training stopped after saving, the latest checkpoint' in err
  else:
    assert proc.returncode == 130, err[-2000:]
    assert 'interrupted SIGINT received: training stopped after saving' in out


def test_inputs_of_a_group_sent_as_one_matrix_are_named_by_their_features():
  spec = (
    {
      groups.packed_key(['a', 'b', 'c', 'd']): tf.TensorSpec([None, 8, 4]),
      groups.ROWS_KEY: tf.TensorSpec([None], tf.int32),
    },
    tf.TensorSpec([None, 8]),
  )
  assert _nan_guard._input_names(spec) == [
    (
      'features',
      "one of features['a'], features['b'], features['c'], ... (a matrix of 4 features)",
    ),
    ('features', "features['%s']" % groups.ROWS_KEY),
    ('labels', 'labels'),
  ]
