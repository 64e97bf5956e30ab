"""make_estimator's Estimator keeps its training graph and session (estimator/_kept_*.py).

What is asserted: a kept session trains to exactly the weights TF's path gives, reads each
call's new data, stops exactly, saves every call's end; and every case it must not handle
(another checkpoint, hooks, listeners, tensors, input variables, spec hooks, errors) trains
as TF's Estimator does. One cohesive set of tests for the three modules of the kept session.
"""

import logging
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import boring_input_fn
from conftest import boring_model_fn
from tfest_adapters import make_estimator
from tfest_adapters.estimator import _kept_call
from tfest_adapters.exceptions import ArgumentTypeError
from tfest_adapters.input_fns import numpy_input_fn
from tfest_adapters.input_fns import tensor_slices_input_fn
from tfest_adapters.models import classifier_model_fn

PARAMS = dict(feature_keys=['f0', 'f1', 'f2', 'f3'], hidden_units=[4], n_classes=3)


def _input_fn(data, steps_per_run=None, **kwargs):
  features, labels = data
  kwargs.setdefault('num_epochs', None)
  return numpy_input_fn(
    features, labels, batch_size=8, shuffle=True, seed=0, steps_per_run=steps_per_run, **kwargs
  )


def _weights(estimator):
  return {n: estimator.get_variable_value(n) for n in estimator.get_variable_names()}


def _train_calls(estimator, input_fn, calls):
  for kwargs in calls:
    estimator.train(input_fn, **kwargs)
  return _weights(estimator)


CALLS = [dict(steps=5), dict(steps=3), dict(max_steps=14), dict(steps=6)]


@pytest.mark.parametrize('steps_per_run', [None, 4])
def test_kept_session_trains_exactly_as_tfs_path(small_data, tmp_path, steps_per_run):
  """Same seeds, same calls: bitwise the same weights, whether the session is kept or not."""
  results = {}
  for keep in (True, False):
    estimator = make_estimator(
      classifier_model_fn, PARAMS, tmp_path / str(keep), seed=0, keep_session=keep
    )
    results[keep] = _train_calls(estimator, _input_fn(small_data, steps_per_run), CALLS)
    assert estimator._keeper.kept_calls == (len(CALLS) - 1 if keep else 0)
    assert results[keep]['global_step'] == 20
  assert sorted(results[True]) == sorted(results[False])
  for name, value in results[True].items():
    np.testing.assert_array_equal(value, results[False][name], err_msg=name)


def test_every_call_reads_new_batches_and_ends_with_a_checkpoint(small_data, tmp_path):
  model_dir = tmp_path / 'm'
  estimator = make_estimator(boring_model_fn, {'learning_rate': 0.5}, model_dir, seed=0)
  seen = []

  def input_fn():
    features, labels = small_data
    # A counter of calls, in the Dataset: the kept graph must get each call's Dataset.
    seen.append(len(seen))
    return tf.data.Dataset.from_tensors(
      ({k: v[:8] for k, v in features.items()}, labels[:8] * 0 + len(seen) - 1)
    ).repeat()

  kernels = []
  for call in range(3):
    estimator.train(input_fn, steps=10)
    assert tf.train.latest_checkpoint(str(model_dir)).endswith('model.ckpt-%d' % (10 * call + 10))
    kernels.append(estimator.get_variable_value('logits/bias'))
  assert seen == [0, 1, 2] and estimator._keeper.kept_calls == 2
  # Labels 0, then 1, then 2: each call pushed its own class's bias up.
  assert [int(np.argmax(k)) for k in kernels] == [0, 1, 2]


def test_evaluate_between_calls_sees_the_last_call(small_data, tmp_path):
  estimator = make_estimator(boring_model_fn, {}, tmp_path / 'm', seed=0)
  input_fn = boring_input_fn(*small_data)
  losses = []
  for _ in range(3):
    estimator.train(input_fn, steps=5)
    result = estimator.evaluate(boring_input_fn(*small_data, repeat=False))
    losses.append(result['loss'])
    assert result['global_step'] == 5 * len(losses)
  assert losses[0] > losses[1] > losses[2]
  assert estimator._keeper.kept_calls == 2


def test_another_checkpoint_in_model_dir_is_restored_not_overwritten(small_data, tmp_path):
  model_dir = tmp_path / 'm'
  estimator = make_estimator(boring_model_fn, {}, model_dir, seed=0)
  input_fn = boring_input_fn(*small_data)
  estimator.train(input_fn, steps=3)
  other = make_estimator(boring_model_fn, {}, model_dir, seed=0)
  other.train(input_fn, steps=4)  # Step 7: newer than what `estimator` holds in memory.
  other_bias = other.get_variable_value('logits/bias')
  estimator.train(input_fn, steps=1)
  assert estimator._keeper.kept_calls == 0  # Rebuilt, as TF's Estimator would.
  assert estimator.get_variable_value('global_step') == 8
  assert not np.array_equal(estimator.get_variable_value('logits/bias'), other_bias)
  estimator.train(input_fn, steps=1)  # Its own checkpoint again: kept.
  assert estimator._keeper.kept_calls == 1
  assert estimator.get_variable_value('global_step') == 9


def test_a_deleted_model_dir_starts_again(small_data, tmp_path):
  model_dir = tmp_path / 'm'
  estimator = make_estimator(boring_model_fn, {}, model_dir, seed=0)
  input_fn = boring_input_fn(*small_data)
  estimator.train(input_fn, steps=3)
  for name in os.listdir(model_dir):
    if name.startswith(('model.ckpt', 'checkpoint')):
      os.remove(model_dir / name)
  estimator.train(input_fn, steps=2)
  assert estimator.get_variable_value('global_step') == 2  # Not 5: the memory was dropped.
  assert estimator._keeper.kept_calls == 0


@pytest.mark.parametrize('keep_session', ['yes', 1, None])
def test_keep_session_must_be_a_bool(keep_session):
  with pytest.raises(ArgumentTypeError, match='keep_session must be a bool, given: '):
    make_estimator(boring_model_fn, {}, keep_session=keep_session)


class _CountingHook(tf.compat.v1.train.SessionRunHook):
  def __init__(self):
    self.runs = 0

  def after_run(self, run_context, run_values):
    self.runs += 1


def _refused(estimator, caplog, expected):
  assert not estimator._keeper.has_session
  assert estimator._keeper.kept_calls == 0
  assert any(expected in r.getMessage() for r in caplog.records), [
    r.getMessage() for r in caplog.records if 'new graph' in r.getMessage()
  ]


@pytest.fixture(name='info_logs')
def info_logs_fixture(caplog):
  verbosity = tf.compat.v1.logging.get_verbosity()
  tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.INFO)
  caplog.set_level(logging.INFO, logger='tensorflow')
  yield caplog
  tf.compat.v1.logging.set_verbosity(verbosity)


def test_a_callers_hook_trains_as_tf(small_data, tmp_path, info_logs):
  estimator = make_estimator(boring_model_fn, {}, tmp_path / 'm', seed=0)
  input_fn = boring_input_fn(*small_data)
  estimator.train(input_fn, steps=2)
  assert estimator._keeper.has_session
  hook = _CountingHook()
  estimator.train(input_fn, steps=3, hooks=[hook])
  assert hook.runs == 3
  _refused(
    estimator,
    info_logs,
    'hooks that may add ops to the graph are given (_CountingHook; '
    'a hook adding none can say so with a class attribute kept_graph_safe = True)',
  )
  assert estimator.get_variable_value('global_step') == 5


def test_saving_listeners_train_as_tf(small_data, tmp_path, info_logs):
  class Listener(tf.estimator.CheckpointSaverListener):
    saves = 0

    def after_save(self, session, global_step_value):
      Listener.saves += 1

  estimator = make_estimator(boring_model_fn, {}, tmp_path / 'm', seed=0)
  estimator.train(boring_input_fn(*small_data), steps=2, saving_listeners=[Listener()])
  assert Listener.saves >= 1
  _refused(estimator, info_logs, 'saving listeners are given')


class MyLoggingHook(tf.compat.v1.train.LoggingTensorHook):
  """A subclass of one of TF's hooks without ops: not taken for it, as it may add some."""

  def begin(self):
    super().begin()
    tf.constant(1.0)  # An op at every begin: it would pile up in a kept graph.


def _tensors_input_fn(data):
  features, labels = data

  def input_fn():
    return ({k: tf.constant(v[:8]) for k, v in features.items()}, tf.constant(labels[:8]))

  return input_fn


def _table_input_fn(data):
  """A table's initializer runs with the training graph's: it cannot travel in a GraphDef."""
  features, labels = data

  def input_fn():
    table = tf.lookup.StaticHashTable(
      tf.lookup.KeyValueTensorInitializer(
        tf.constant([0, 1, 2], tf.int64), tf.constant([2, 0, 1], tf.int64)
      ),
      -1,
    )
    dataset = tf.data.Dataset.from_tensor_slices((dict(features), labels))
    return dataset.map(lambda x, y: (x, table.lookup(y))).repeat().batch(8)

  return input_fn


def _boring_input_fn(data):
  return boring_input_fn(*data)


# make_estimator's options, the input_fn (of the data), the number of train() calls and the
# arguments of each, the reason logged, and the global step after the calls (None: no
# checkpoint to read it from).
_TRAINS_AS_TF = [
  pytest.param(
    dict(keep_session=False),
    _boring_input_fn,
    2,
    lambda: dict(steps=2),
    'make_estimator(keep_session=False)',
    4,
    id='keep-session-false',
  ),
  pytest.param(
    dict(save_checkpoints_steps=None, save_checkpoints_secs=None),
    _boring_input_fn,
    1,
    lambda: dict(steps=2),
    'the RunConfig saves no checkpoints',
    None,
    id='no-checkpoints',
  ),
  pytest.param(
    {},
    _tensors_input_fn,
    2,
    lambda: dict(steps=2),
    'the input_fn returns tuple, not a tf.data.Dataset',
    4,
    id='input-fn-returns-tensors',
  ),
  pytest.param(
    {},
    _table_input_fn,
    1,
    lambda: dict(steps=3),
    'adds variables, tables or queue runners',
    3,
    id='input-fn-with-a-table',
  ),
  pytest.param(
    {},
    _boring_input_fn,
    2,
    lambda: dict(steps=2, hooks=[MyLoggingHook(['global_step'], every_n_iter=10)]),
    'given (MyLoggingHook;',
    4,
    id='subclass-of-a-tf-hook',
  ),
]


@pytest.mark.parametrize(
  'options, make_input_fn, calls, train_kwargs, reason, global_step', _TRAINS_AS_TF
)
def test_calls_that_could_tell_the_difference_train_as_tf(
  small_data, tmp_path, info_logs, options, make_input_fn, calls, train_kwargs, reason, global_step
):
  estimator = make_estimator(boring_model_fn, {}, tmp_path / 'm', seed=0, **options)
  input_fn = make_input_fn(small_data)
  for _ in range(calls):
    estimator.train(input_fn, **train_kwargs())
  if global_step is not None:
    assert estimator.get_variable_value('global_step') == global_step
  _refused(estimator, info_logs, reason)


def test_a_model_fn_with_training_hooks_trains_as_tf_from_then_on(small_data, tmp_path, info_logs):
  hooks = []

  def model_fn(features, labels, mode, params):
    spec = boring_model_fn(features, labels, mode, params)
    if mode != tf.estimator.ModeKeys.TRAIN:
      return spec
    hooks.append(_CountingHook())
    return spec._replace(training_hooks=[hooks[-1]])

  estimator = make_estimator(model_fn, {}, tmp_path / 'm', seed=0)
  input_fn = boring_input_fn(*small_data)
  estimator.train(input_fn, steps=2)
  estimator.train(input_fn, steps=3)
  assert [h.runs for h in hooks] == [2, 3]  # A graph and its hooks per call.
  _refused(estimator, info_logs, 'the model_fn returns training hooks')
  assert estimator.get_variable_value('global_step') == 5


def test_an_error_in_training_drops_the_session(small_data, tmp_path):
  model_dir = tmp_path / 'm'
  estimator = make_estimator(boring_model_fn, {}, model_dir, seed=0)
  features, labels = small_data
  estimator.train(boring_input_fn(features, labels), steps=2)
  bad = dict(features, f0=np.full_like(features['f0'], np.nan))
  with pytest.raises(tf.compat.v1.train.NanLossDuringTrainingError):
    estimator.train(boring_input_fn(bad, labels), steps=2)
  assert not estimator._keeper.has_session
  assert tf.train.latest_checkpoint(str(model_dir)).endswith('model.ckpt-2')
  estimator.train(boring_input_fn(features, labels), steps=1)
  assert estimator.get_variable_value('global_step') == 3
  assert np.all(np.isfinite(estimator.get_variable_value('logits/kernel')))


def test_close_frees_the_session_and_the_next_call_builds_again(small_data, tmp_path):
  estimator = make_estimator(boring_model_fn, {}, tmp_path / 'm', seed=0)
  input_fn = boring_input_fn(*small_data)
  estimator.train(input_fn, steps=2)
  session = estimator._keeper._kept.session
  estimator.close()
  assert not estimator._keeper.has_session and session._closed
  estimator.close()  # Twice is fine.
  estimator.train(input_fn, steps=2)
  assert estimator._keeper.has_session and estimator._keeper.kept_calls == 0
  assert estimator.get_variable_value('global_step') == 4


def test_another_thread_training_leaves_this_call_to_tfs_path(small_data, tmp_path, info_logs):
  estimator = make_estimator(boring_model_fn, {}, tmp_path / 'm', seed=0)
  input_fn = boring_input_fn(*small_data)
  estimator.train(input_fn, steps=2)
  with estimator._keeper._lock:  # As while another thread trains.
    estimator.train(input_fn, steps=2)
  assert estimator._keeper.kept_calls == 0
  assert any(
    'another thread is training this Estimator' in r.getMessage() for r in info_logs.records
  )
  # The kept session no longer matches model_dir's checkpoint (step 4): rebuilt.
  estimator.train(input_fn, steps=2)
  assert estimator.get_variable_value('global_step') == 6
  assert estimator._keeper.kept_calls == 0


def test_a_changed_element_spec_builds_again(small_data, tmp_path):
  def input_fn(**kwargs):
    return tensor_slices_input_fn(*small_data, batch_size=8, seed=0, num_epochs=1, **kwargs)

  estimator = make_estimator(classifier_model_fn, PARAMS, tmp_path / 'm', seed=0)
  estimator.train(input_fn(), steps=2)
  estimator.train(input_fn(drop_remainder=True), steps=2)  # A static batch dimension.
  assert estimator._keeper.kept_calls == 0
  estimator.train(input_fn(drop_remainder=True), steps=2)
  assert estimator._keeper.kept_calls == 1
  assert estimator.get_variable_value('global_step') == 6


def test_warm_start_applies_to_the_first_call(small_data, tmp_path):
  source = make_estimator(boring_model_fn, {}, tmp_path / 'source', seed=1)
  source.train(boring_input_fn(*small_data), steps=20)
  kernel = source.get_variable_value('logits/kernel')
  estimator = make_estimator(
    boring_model_fn,
    {'learning_rate': 0.0},
    tmp_path / 'm',
    seed=0,
    warm_start_from=str(tmp_path / 'source'),
  )
  estimator.train(boring_input_fn(*small_data), steps=1)
  np.testing.assert_array_equal(estimator.get_variable_value('logits/kernel'), kernel)
  assert estimator.get_variable_value('global_step') == 1


def _summary_steps(model_dir, tag):
  steps = []
  for name in sorted(os.listdir(model_dir)):
    if name.startswith('events.out.tfevents'):
      for event in tf.compat.v1.train.summary_iterator(str(model_dir / name)):
        steps += [event.step for v in event.summary.value if v.tag == tag]
  return sorted(steps)


def test_summaries_and_checkpoints_of_every_call_are_tfs(small_data, tmp_path):
  written = {}
  for keep in (True, False):
    model_dir = tmp_path / str(keep)
    estimator = make_estimator(
      boring_model_fn,
      {},
      model_dir,
      seed=0,
      save_summary_steps=2,
      log_step_count_steps=2,
      save_checkpoints_steps=4,
    )
    input_fn = boring_input_fn(*small_data)
    for _ in range(3):
      estimator.train(input_fn, steps=3)
    written[keep] = (
      _summary_steps(model_dir, 'loss'),
      _summary_steps(model_dir, 'global_step/sec'),
      sorted(n for n in os.listdir(model_dir) if n.endswith('.index')),
    )
  assert written[True] == written[False]
  assert written[True][2] == ['model.ckpt-%d.index' % s for s in (0, 3, 6, 9)]


def test_a_lost_session_is_recreated_from_the_checkpoint(small_data, tmp_path):
  """MonitoredSession asks again after an AbortedError: the checkpoint, as TF's does."""
  model_dir = tmp_path / 'm'
  estimator = make_estimator(boring_model_fn, {}, model_dir, seed=0)
  estimator.train(boring_input_fn(*small_data), steps=2)
  kept = estimator._keeper._kept
  creator = _kept_call.SessionCreator(kept, estimator.config, str(model_dir))
  old = kept.session
  (bias,) = [
    v
    for v in kept.graph.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES)
    if v.op.name == 'logits/bias'
  ]
  with kept.graph.as_default():
    first = creator.create_session()
    assert first.run(kept.global_step) == 2
    bias.load(np.ones(3, np.float32), first)  # Memory moves on from the checkpoint.
    second = creator.create_session()
    assert kept.session is not old and old._closed
    np.testing.assert_array_equal(second.run(bias), estimator.get_variable_value('logits/bias'))
  second.close()  # Leaves the kept session open.
  assert not kept.session._closed
  estimator.close()


def test_exit_without_close_does_not_hang(tmp_path):
  """tf.data's threads calling into Python while the interpreter finalizes can hang a
  session's close: the atexit handler closes kept sessions first.

  Without the handler this script hung at exit here (small groups keep the prefetch thread
  in the builder's gather when the last call returns); with it, it exits.
  """
  script = """
import numpy as np
from tfest_adapters import make_estimator
from tfest_adapters.input_fns import numpy_input_fn
from tfest_adapters.models import classifier_model_fn
x = np.random.default_rng(0).random((1000, 30), dtype=np.float32)
features = {{'c%02d' % i: x[:, i].copy() for i in range(30)}}
labels = (x[:, 0] > 0.5).astype(np.int64)
estimator = make_estimator(classifier_model_fn, dict(feature_keys=sorted(features),
                           hidden_units=[4], n_classes=2), {model_dir!r}, seed=0)
input_fn = numpy_input_fn(features, labels, batch_size=4, shuffle=True, num_epochs=None,
                          seed=0, steps_per_run=2)
for _ in range(3):
  estimator.train(input_fn, steps=2)
print('trained', estimator._keeper.kept_calls, estimator._keeper.has_session)
""".format(model_dir=str(tmp_path / 'm'))
  result = subprocess.run(
    [sys.executable, '-c', script], capture_output=True, text=True, timeout=120, check=False
  )
  assert result.returncode == 0, result.stderr[-2000:]
  assert 'trained 2 True' in result.stdout


def test_each_calls_stop_hooks_bound_the_kept_loop(small_data, tmp_path):
  """The loop's stop hooks are the call's own: not the first call's last step again."""
  estimator = make_estimator(classifier_model_fn, PARAMS, tmp_path / 'm', seed=0)
  input_fn = _input_fn(small_data, steps_per_run=4)
  steps = []
  for kwargs in (dict(steps=6), dict(steps=3), dict(max_steps=20), dict(steps=1)):
    estimator.train(input_fn, **kwargs)
    steps.append(int(estimator.get_variable_value('global_step')))
  assert steps == [6, 9, 20, 21]
  assert estimator._keeper.kept_calls == 3


def test_a_generator_dataset_is_fed_to_the_kept_graph(small_data, tmp_path):
  """Dataset.from_generator calls Python: fed to the kept graph, in this process, it works."""
  features, labels = small_data
  made, ended = [], []

  def input_fn():
    call = len(made)
    made.append(call)

    def batches():
      for start in range(0, 64, 16):
        yield {k: v[start : start + 16] for k, v in features.items()}, labels[start : start + 16]
      ended.append(call)  # The generator of this call ran to its end.

    signature = (
      {k: tf.TensorSpec([None], tf.float32) for k in features},
      tf.TensorSpec([None], tf.int64),
    )
    return tf.data.Dataset.from_generator(batches, output_signature=signature)

  estimator = make_estimator(boring_model_fn, {}, tmp_path / 'm', seed=0)
  estimator.train(input_fn)  # Until the generator ends: 4 steps.
  estimator.train(input_fn)
  assert estimator._keeper.kept_calls == 1
  assert estimator.get_variable_value('global_step') == 8
  assert made == ended == [0, 1]


def test_fits_chunks_share_one_session_and_train_as_tfs_path(small_data, tmp_path):
  """fit's guard, recorder and saver hooks say kept_graph_safe: its chunks keep the session."""
  from tfest_adapters import fit

  results = {}
  for keep in (True, False):
    estimator = make_estimator(
      classifier_model_fn,
      dict(PARAMS, steps_per_run=2),
      tmp_path / str(keep),
      seed=0,
      keep_session=keep,
    )
    history = fit(
      estimator,
      _input_fn(small_data),
      max_steps=24,
      eval_input_fn=_input_fn(small_data, num_epochs=1),
      eval_every_steps=8,
      progress=False,
    )
    assert estimator._keeper.kept_calls == (2 if keep else 0)
    frame = history.frame
    results[keep] = (
      _weights(estimator),
      frame['step'].tolist(),
      frame['loss'].tolist(),
      frame['eval_loss'].dropna().tolist(),
    )
  assert results[True][1] == results[False][1] == list(range(2, 25, 2))
  assert results[True][2:] == results[False][2:]
  assert len(results[True][3]) == 3
  for name, value in results[True][0].items():
    np.testing.assert_array_equal(value, results[False][0][name], err_msg=name)


def test_a_nan_in_a_kept_session_stops_fit_and_saves_nothing(small_data, tmp_path):
  """A second fit takes the kept graph, whose NaN guard ops were built by the first fit."""
  from tfest_adapters import fit
  from tfest_adapters.exceptions import TrainingError

  model_dir = tmp_path / 'm'
  estimator = make_estimator(boring_model_fn, {}, model_dir, seed=0)
  features, labels = small_data
  fit(estimator, boring_input_fn(features, labels), max_steps=4, progress=False)
  bad = dict(features, f1=np.where(np.arange(64) >= 8, np.nan, features['f1']))
  # Rows 0-7 are clean: step 5 trains, step 6 reads the first NaN.
  with pytest.raises(
    TrainingError,
    match=r'The training loss was NaN at global step 6\b.*'
    r"non-finite values in features\['f1'\] \(labels were finite\)",
  ):
    fit(estimator, boring_input_fn(bad, labels, batch_size=8), max_steps=20, progress=False)
  assert estimator._keeper.kept_calls == 1
  assert not estimator._keeper.has_session
  assert tf.train.latest_checkpoint(str(model_dir)).endswith('model.ckpt-4')


def test_a_hook_that_says_kept_graph_safe_keeps_the_session(small_data, tmp_path):
  class SafeCountingHook(_CountingHook):
    kept_graph_safe = True

  estimator = make_estimator(boring_model_fn, {}, tmp_path / 'm', seed=0)
  input_fn = boring_input_fn(*small_data)
  hook = SafeCountingHook()
  for _ in range(3):
    estimator.train(input_fn, steps=2, hooks=[hook])
  assert hook.runs == 6 and estimator._keeper.kept_calls == 2


def test_unseeded_random_ops_of_the_model_fn_draw_as_in_tfs_graph(small_data, tmp_path):
  """The kept graph has other ops before the model_fn; the op seeds do not depend on them."""

  def model_fn(features, labels, mode, params):
    x = tf.stack([features['f%d' % i] for i in range(4)], 1)
    kernel = tf.compat.v1.get_variable('kernel', [4, 3])  # glorot_uniform, no op seed.
    bias = tf.compat.v1.get_variable(
      'bias', [3], initializer=tf.compat.v1.random_normal_initializer()
    )
    logits = tf.matmul(x, kernel) + bias + tf.compat.v1.random_normal([1, 3])
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
    return tf.estimator.EstimatorSpec(
      mode, loss=loss, train_op=tf.compat.v1.assign_add(tf.compat.v1.train.get_global_step(), 1)
    )

  values = {}
  for keep in (True, False):
    estimator = make_estimator(model_fn, {}, tmp_path / str(keep), seed=3, keep_session=keep)
    estimator.train(boring_input_fn(*small_data), steps=1)
    values[keep] = [estimator.get_variable_value(n) for n in ('kernel', 'bias')]
  for kept, tfs in zip(values[True], values[False]):
    np.testing.assert_array_equal(kept, tfs)


def test_tfs_hooks_that_add_no_op_keep_the_session(small_data, tmp_path):
  logged = []
  logging_hook = tf.compat.v1.train.LoggingTensorHook(
    {'loss': 'sparse_softmax_cross_entropy_loss/value:0'},
    every_n_iter=1,
    formatter=lambda values: logged.append(float(values['loss'])),
  )
  estimator = make_estimator(boring_model_fn, {}, tmp_path / 'm', seed=0)
  input_fn = boring_input_fn(*small_data)
  for _ in range(3):
    estimator.train(
      input_fn,
      steps=2,
      hooks=[
        logging_hook,
        tf.compat.v1.train.StepCounterHook(output_dir=str(tmp_path / 'c')),
        tf.compat.v1.train.StopAtStepHook(num_steps=5),
      ],
    )
  assert estimator._keeper.kept_calls == 2
  assert len(logged) == 6 and logged[-1] < logged[0]  # The tensor found by name each call.
