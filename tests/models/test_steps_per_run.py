"""Several training steps per session.run: the templates' in-graph loop, through real Estimators.

K steps per run equal K runs of one step (weights, global step, reported losses), for TF's
optimizers by name and Keras ones, Keras and tf.compat.v1 layers, batch normalisation and
regularizers, full and padded groups; StepsPerRunStopHook stops exactly where the Estimator's
own hook overshoots; EVAL and PREDICT pass through; each refusal; and bench/train_throughput.py
--quick still runs.
"""

import importlib.util
import pathlib
import re
import shutil

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.ops import while_v2

from tfest_adapters import exceptions
from tfest_adapters._core.groups import ROWS_KEY
from tfest_adapters._core.groups import packed_key
from tfest_adapters._core.stop_hook import StepsPerRunStopHook
from tfest_adapters.input_fns import numpy_input_fn
from tfest_adapters.input_fns import tensor_slices_input_fn
from tfest_adapters.input_fns._grouping import group_batches
from tfest_adapters.input_fns._grouping import make_group_dataset
from tfest_adapters.models import _steps_per_run
from tfest_adapters.models import classifier_model_fn
from tfest_adapters.models import make_model_fn

pytestmark = pytest.mark.filterwarnings('ignore:`tf.layers.dense` is deprecated')
ModeKeys = tf.estimator.ModeKeys
KEYS = ['f0', 'f1', 'f2', 'f3']
BENCH = pathlib.Path(__file__).resolve().parents[2] / 'bench'


@pytest.fixture(scope='module', name='data')
def data_fixture():
  rng = np.random.RandomState(0)
  x = rng.normal(size=(90, 4)).astype(np.float32)
  y = np.argmax(x[:, :3] + 0.3 * rng.normal(size=(90, 3)), axis=1).astype(np.int64)
  return {k: x[:, i] for i, k in enumerate(KEYS)}, y


def _input_fn(data, batch_size, num_epochs, steps_per_run, native=False):
  """numpy_input_fn's batches (shuffled, seed 0), grouped by the wrapper or gathered at once."""
  features, labels = data
  if not native:
    return group_batches(
      numpy_input_fn(
        features, labels, batch_size=batch_size, num_epochs=num_epochs, shuffle=True, seed=0
      ),
      steps_per_run,
    )

  def input_fn():  # What numpy_input_fn(..., steps_per_run=K) builds: call 0 of seed 0.
    return make_group_dataset(
      [features[k] for k in KEYS] + [labels],
      [tf.float32] * 4 + [tf.int64],
      lambda c: (dict(zip(KEYS, c[:4])), c[4]),
      batch_size,
      num_epochs,
      True,
      seed=(0, 0),
      steps_per_run=steps_per_run,
    )

  return input_fn


class _Losses(tf.compat.v1.train.SessionRunHook):
  """The loss each run reports (the spec's, last in the LOSSES collection)."""

  def __init__(self):
    self.values = []

  def begin(self):
    self._loss = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.LOSSES)[-1]

  def before_run(self, run_context):
    return tf.compat.v1.train.SessionRunArgs(self._loss)

  def after_run(self, run_context, run_values):
    self.values.append(float(run_values.results))


def _estimator(model_fn, model_dir, params=None, **config):
  return tf.estimator.Estimator(
    model_fn,
    str(model_dir),
    params=params,
    config=tf.estimator.RunConfig(tf_random_seed=7, **config),
  )


def _weights(estimator):
  names = [n for n in estimator.get_variable_names() if n != 'global_step']
  return {n: estimator.get_variable_value(n) for n in names}


def _assert_same_weights(a, b):
  assert sorted(a) == sorted(b)
  for name in a:
    np.testing.assert_allclose(a[name], b[name], rtol=1e-6, atol=1e-7, err_msg=name)


@pytest.mark.parametrize(
  'optimizer, batch_norm, native', [('Adagrad', False, True), ('Adam', True, False)]
)
def test_k_steps_per_run_equal_k_runs_from_the_same_checkpoint(
  data, tmp_path, optimizer, batch_norm, native
):
  params = dict(
    feature_keys=KEYS,
    hidden_units=[8, 6],
    n_classes=3,
    optimizer=optimizer,
    learning_rate=0.05,
    batch_norm=batch_norm,
  )
  _estimator(classifier_model_fn, tmp_path / 'start', params).train(
    _input_fn(data, 8, None, 1), steps=3
  )
  results = {}
  for k in (1, 8):
    shutil.copytree(tmp_path / 'start', tmp_path / str(k))
    estimator = _estimator(classifier_model_fn, tmp_path / str(k), params)
    losses = _Losses()
    estimator.train(
      _input_fn(data, 8, None, k, native),
      steps=13,
      hooks=[losses, StepsPerRunStopHook(num_steps=13)],
    )
    results[k] = estimator, losses.values
  (one, one_losses), (eight, eight_losses) = results[1], results[8]
  assert one.get_variable_value('global_step') == eight.get_variable_value('global_step') == 16
  _assert_same_weights(_weights(one), _weights(eight))
  # One run of 8 steps, then one of the last 5 (the stop hook ends the loop there): each
  # reports the mean of its steps' losses.
  assert len(one_losses) == 13 and len(eight_losses) == 2
  np.testing.assert_allclose(
    eight_losses, [np.mean(one_losses[:8]), np.mean(one_losses[8:])], rtol=1e-5
  )


def test_shuffled_columns_travel_as_one_matrix_and_train_the_same(data, tmp_path):
  """The builders send a group's columns as one row-major matrix; the DNN takes it as is.

  The keys are given in reverse, so that the input layer (sorted keys) reorders the columns.
  """
  features, labels = data
  keys = KEYS[::-1]
  features = {k: features[k] for k in keys}
  params = dict(
    feature_keys=KEYS, hidden_units=[8], n_classes=3, optimizer='Adam', learning_rate=0.05
  )
  grouped = tensor_slices_input_fn(features, labels, batch_size=8, seed=0, steps_per_run=4)
  spec = grouped(mode=ModeKeys.TRAIN).element_spec[0]
  assert sorted(spec) == sorted([ROWS_KEY, packed_key(keys)])
  assert spec[packed_key(keys)].shape.as_list() == [None, 8, 4]
  weights = {}
  for k in (1, 4):
    estimator = _estimator(classifier_model_fn, tmp_path / str(k), params)
    estimator.train(
      tensor_slices_input_fn(features, labels, batch_size=8, seed=0, steps_per_run=k),
      steps=12,
      hooks=[StepsPerRunStopHook(num_steps=12)],
    )
    assert estimator.get_variable_value('global_step') == 12
    weights[k] = _weights(estimator)
  _assert_same_weights(weights[1], weights[4])


def _keras_and_v1_network(features, mode):
  del mode  # Unused.
  x = tf.stack([features[k] for k in KEYS], axis=1)
  hidden = tf.keras.layers.Dense(
    8, activation='relu', kernel_regularizer=tf.keras.regularizers.l2(0.01)
  )
  x = hidden(x)
  x = tf.compat.v1.layers.dense(
    x, 6, activation=tf.nn.relu, kernel_regularizer=tf.keras.regularizers.l2(0.01)
  )
  return tf.compat.v1.layers.dense(x, 3, name='logits'), hidden


@pytest.mark.parametrize('native', [False, True])
def test_from_scratch_to_the_end_of_the_data_with_padded_groups(data, tmp_path, native):
  """Keras and tf.compat.v1 layers with regularizers, a new-style Keras Adam, a short batch."""
  model_fn = make_model_fn(
    _keras_and_v1_network, 'multi_class', n_classes=3, optimizer=tf.keras.optimizers.Adam(0.02)
  )
  weights = {}
  for k in (1, 4):
    estimator = _estimator(model_fn, tmp_path / str(k), save_summary_steps=1)
    estimator.train(_input_fn(data, 16, 1, k, native))  # 5 batches of 16, one of 10.
    assert estimator.get_variable_value('global_step') == 6
    weights[k] = _weights(estimator)
  _assert_same_weights(weights[1], weights[4])
  events = tf.io.gfile.glob(str(tmp_path / '4' / 'events.out.tfevents.*'))
  tags = {v.tag for e in tf.compat.v1.train.summary_iterator(events[0]) for v in e.summary.value}
  assert {'loss', 'regularization_loss'} <= tags


def _linear(features):
  return tf.keras.layers.Dense(3)(tf.stack([features[k] for k in KEYS], axis=1))


def test_the_stop_hook_stops_exactly_where_the_estimators_own_overshoots(data, tmp_path):
  model_fn = make_model_fn(_linear, 'multi_class', n_classes=3)
  grouped = _input_fn(data, 8, None, 4)
  plain = _estimator(model_fn, tmp_path / 'plain')
  plain.train(grouped, steps=6)
  # The Estimator's StopAtStepHook checks only after a run begun at step >= 5: 0-4, 4-8, 8-12.
  assert plain.get_variable_value('global_step') == 12
  exact = _estimator(model_fn, tmp_path / 'exact')
  exact.train(grouped, steps=6, hooks=[StepsPerRunStopHook(num_steps=6)])
  assert exact.get_variable_value('global_step') == 6
  # Two hooks in one session (fit's and a caller's): the first last step wins.
  exact.train(grouped, hooks=[StepsPerRunStopHook(num_steps=9), StepsPerRunStopHook(last_step=11)])
  assert exact.get_variable_value('global_step') == 11
  # Without a loop in the graph it is TF's StopAtStepHook.
  single = _estimator(model_fn, tmp_path / 'single')
  single.train(_input_fn(data, 8, None, 1), hooks=[StepsPerRunStopHook(num_steps=5)])
  assert single.get_variable_value('global_step') == 5


def test_checkpoints_meta_graphs_are_written_without_warnings(data, tmp_path, caplog):
  """The loop is not kept in a graph collection, which each checkpoint's .meta would warn
  about ("Issue encountered when serializing")."""
  model_fn = make_model_fn(_linear, 'multi_class', n_classes=3)
  estimator = _estimator(model_fn, tmp_path / 'm')
  estimator.train(
    _input_fn(data, 8, None, 4, native=True), hooks=[StepsPerRunStopHook(num_steps=8)]
  )
  assert (tmp_path / 'm' / 'model.ckpt-8.meta').exists()
  assert not [r.getMessage() for r in caplog.records if 'serializing' in r.getMessage()]


def test_params_steps_per_run_groups_and_eval_and_predict_read_batches(data, tmp_path):
  params = dict(feature_keys=KEYS, hidden_units=[6], n_classes=3, dropout=0.2, steps_per_run=4)
  grouped = group_batches(
    numpy_input_fn(*data, batch_size=8, num_epochs=None, shuffle=True, seed=1)
  )  # Groups of params['steps_per_run'].
  estimator = _estimator(classifier_model_fn, tmp_path, params)
  losses = _Losses()
  estimator.train(grouped, steps=8, hooks=[losses, StepsPerRunStopHook(num_steps=8)])
  assert len(losses.values) == 2 and np.all(np.isfinite(losses.values))  # With dropout.
  evaluation = group_batches(numpy_input_fn(*data, batch_size=32, shuffle=False), 4)
  metrics = estimator.evaluate(evaluation)
  assert metrics['global_step'] == 8 and 0 <= metrics['accuracy'] <= 1
  predict = group_batches(numpy_input_fn(data[0], batch_size=32, shuffle=False), 4)
  assert len(list(estimator.predict(predict))) == 90


def _group_features(k=2, batch_size=3):
  features = {key: tf.zeros([k, batch_size]) for key in KEYS}
  features[ROWS_KEY] = tf.fill([k], batch_size)
  return features, tf.zeros([k, batch_size], tf.int64)


@pytest.mark.parametrize('mode, name', [(ModeKeys.EVAL, 'EVAL'), (ModeKeys.PREDICT, 'PREDICT')])
def test_a_group_is_refused_in_eval_and_predict(mode, name):
  params = dict(feature_keys=KEYS, hidden_units=[4], n_classes=3)
  with tf.Graph().as_default():
    features, labels = _group_features()
    with pytest.raises(
      exceptions.ArgumentError,
      match=re.escape('steps_per_run: %s got a group of batches' % name)
      + '.*groups are for training only',
    ):
      classifier_model_fn(features, labels, mode, params)


def test_steps_per_run_in_params_with_single_batches_warns():
  params = dict(feature_keys=KEYS, hidden_units=[4], n_classes=3, steps_per_run=4)
  with tf.Graph().as_default():
    tf.compat.v1.train.get_or_create_global_step()
    features = {key: tf.zeros([3]) for key in KEYS}
    with pytest.warns(
      UserWarning,
      match=re.escape(
        'params["steps_per_run"]=4 asks for 4 training steps per session.run, but the '
        'input_fn gives one batch per run'
      ),
    ):
      classifier_model_fn(features, tf.zeros([3], tf.int64), ModeKeys.TRAIN, params)


@pytest.mark.parametrize(
  'model_fn', [classifier_model_fn, make_model_fn(_linear, 'multi_class', n_classes=3)]
)
def test_a_bad_steps_per_run_param_is_refused(model_fn):
  params = dict(feature_keys=KEYS, hidden_units=[4], n_classes=3, steps_per_run=0)
  if model_fn is not classifier_model_fn:
    params = dict(steps_per_run=0)
  with tf.Graph().as_default():
    features, labels = _group_features()
    with pytest.raises(
      exceptions.ArgumentError,
      match=re.escape(
        'params["steps_per_run"] must be a positive int, given: 0. Give the number of '
        'training steps each session.run performs, e.g. 8'
      ),
    ):
      model_fn(features, labels, ModeKeys.TRAIN, params, None)


def test_malformed_row_counts_are_refused():
  params = dict(feature_keys=KEYS, hidden_units=[4], n_classes=3)
  with tf.Graph().as_default():
    features, labels = _group_features()
    features[ROWS_KEY] = tf.constant(3)
    with pytest.raises(
      exceptions.ArgumentError,
      match=re.escape("features['%s'] must be the int row counts [k] of a group" % ROWS_KEY),
    ):
      classifier_model_fn(features, labels, ModeKeys.TRAIN, params)


def test_a_group_under_a_distribution_strategy_is_refused():
  params = dict(feature_keys=KEYS, hidden_units=[4], n_classes=3)
  with tf.Graph().as_default(), tf.distribute.OneDeviceStrategy('/cpu:0').scope():
    features, labels = _group_features()
    with pytest.raises(
      exceptions.ArgumentError,
      match=re.escape(
        'steps_per_run: groups of batches cannot be trained under a distribution strategy '
        '(OneDeviceStrategy)'
      ),
    ):
      classifier_model_fn(features, labels, ModeKeys.TRAIN, params)


def _train_graph(network_fn):
  model_fn = make_model_fn(network_fn, 'multi_class', n_classes=3)
  with tf.Graph().as_default():
    tf.compat.v1.train.get_or_create_global_step()
    features, labels = _group_features()
    model_fn(features, labels, ModeKeys.TRAIN, None, tf.estimator.RunConfig())


def test_a_variable_made_from_a_tensor_of_the_step_is_refused():
  def network_fn(features):
    x = tf.stack([features[k] for k in KEYS], axis=1)
    return tf.matmul(x, tf.Variable(tf.zeros([4, 3]), name='w'))

  with pytest.raises(
    exceptions.SpecError,
    match=re.escape("steps_per_run: the network creates variable 'w' from a tensor"),
  ):
    _train_graph(network_fn)


def test_reference_variables_are_refused():
  def network_fn(features):
    x = tf.stack([features[k] for k in KEYS], axis=1)
    return tf.matmul(x, tf.compat.v1.get_variable('w', [4, 3], use_resource=False))

  with pytest.raises(
    exceptions.SpecError, match=re.escape('steps_per_run: w:0 is a reference variable')
  ):
    _train_graph(network_fn)


def test_a_value_computed_outside_the_loop_from_a_variable_is_refused():
  with tf.Graph().as_default():
    weight = tf.Variable(1.0, name='weight')
    stale = tf.identity(weight.read_value() * 2, name='stale')
    body_graphs = []

    def body(i):
      body_graphs.append(tf.compat.v1.get_default_graph())
      return i + stale

    while_v2.while_loop(lambda i: i < 3.0, body, [tf.constant(0.0)])
    with pytest.raises(
      exceptions.SpecError,
      match=re.escape(
        'steps_per_run: the training step uses stale:0, computed outside the training loop '
        "from the value of variable 'weight'"
      ),
    ):
      _steps_per_run._check_captures(body_graphs[0], allowed=[])


def _bench(name):
  spec = importlib.util.spec_from_file_location('bench_' + name, BENCH / (name + '.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.mark.slow
def test_train_throughput_quick_mode_returns_its_figures():
  figures = _bench('train_throughput').main(['--quick'])
  configs = {'limit', 'keras_fit', 'legacy', 'k1', 'auto', 'k8', 'k32_wrap', 'k32_fused'}
  assert set(figures['examples_per_s']) == configs
  assert len(figures['auto_k']) == 1 and 1 <= figures['auto_k'][0] <= 64
  assert all(rate > 0 for rate in figures['examples_per_s'].values())
  assert figures['ratio_to_limit']['limit'] == 1.0
  assert set(figures['fixed_cost_s']) == {'k8'}
