"""Optimizers: names, tf.compat.v1.train and Keras ones (new-style converted, global step wired).

Training tests can never hang: their data is finite and a hook stops after a fixed number of
session runs whatever the global step does; they then check that the global step advanced.
"""

import copy

import numpy as np
import pytest
import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters.models import _optimizers
from tfest_adapters.models import classifier_model_fn
from tfest_adapters.models import make_model_fn
from tfest_adapters.models import make_optimizer_fn

RUNS = 3


class _RunLimitHook(tf.compat.v1.train.SessionRunHook):
  """Stops training after ``limit`` session runs, even if the global step never moves."""

  def __init__(self, limit):
    self._limit = limit
    self._runs = 0

  def after_run(self, run_context, run_values):
    self._runs += 1
    if self._runs >= self._limit:
      run_context.request_stop()


def _network_fn(features, mode, params):
  del mode, params
  return tf.keras.layers.Dense(3)(tf.stack([features['f%d' % i] for i in range(4)], axis=1))


def _input_fn(small_data, boring_input_fn):
  x, y = small_data
  # 4 batches, no repeat: training ends when the data does.
  return boring_input_fn(x, y, batch_size=16, repeat=False)


def _global_step_after(trainings, optimizer, small_data, boring_input_fn, tmp_path, **kwargs):
  """Trains ``trainings`` times (one graph each: the optimizer must work in each)."""
  estimator = tf.estimator.Estimator(
    make_model_fn(_network_fn, 'multi_class', n_classes=3, optimizer=optimizer, **kwargs),
    model_dir=str(tmp_path),
    config=tf.estimator.RunConfig(tf_random_seed=0),
  )
  for _ in range(trainings):
    estimator.train(_input_fn(small_data, boring_input_fn), hooks=[_RunLimitHook(RUNS)])
  return estimator.get_variable_value('global_step')


# Instances are trained twice: each train() builds a new graph, where the same instance (v1)
# or a clone (Keras) must work again.
@pytest.mark.parametrize(
  'trainings,make_optimizer',
  [
    (1, lambda: 'Adam'),
    (2, lambda: tf.compat.v1.train.AdamOptimizer(0.01)),
    (2, lambda: tf.keras.optimizers.legacy.Adam(0.01)),
    (2, lambda: tf.keras.optimizers.Adam(0.01)),
    (1, lambda: lambda: tf.keras.optimizers.SGD(0.1, momentum=0.9)),
    (
      1,
      lambda: (
        lambda: tf.compat.v1.train.GradientDescentOptimizer(
          tf.compat.v1.train.exponential_decay(0.1, tf.compat.v1.train.get_global_step(), 10, 0.9)
        )
      ),
    ),
  ],
  ids=['name', 'v1', 'keras_legacy', 'keras_new', 'callable_keras_new', 'callable_v1_decay'],
)
def test_every_optimizer_kind_trains_and_advances_the_global_step(
  trainings, make_optimizer, small_data, boring_input_fn, tmp_path
):
  assert (
    _global_step_after(trainings, make_optimizer(), small_data, boring_input_fn, tmp_path)
    == trainings * RUNS
  )


def test_learning_rate_goes_to_the_named_optimizer(small_data, boring_input_fn, tmp_path):
  _global_step_after(1, 'sgd', small_data, boring_input_fn, tmp_path, learning_rate=0.25)
  reader = tf.train.load_checkpoint(str(tmp_path))
  assert reader.get_tensor('training/SGD/learning_rate') == np.float32(0.25)


@pytest.mark.parametrize(
  'name,cls',
  [
    ('Adagrad', tf.keras.optimizers.legacy.Adagrad),
    ('adam', _optimizers._Adam),
    ('FTRL', tf.keras.optimizers.legacy.Ftrl),
    ('rmsprop', tf.keras.optimizers.legacy.RMSprop),
    ('Sgd', tf.keras.optimizers.legacy.SGD),
  ],
)
def test_names_are_case_insensitive_and_make_the_canned_legacy_classes(name, cls):
  with tf.Graph().as_default():
    optimizer = _optimizers.make_optimizer_fn(name, 0.5)()
    assert type(optimizer) is cls
    assert optimizer.get_config()['learning_rate'] == 0.5
    assert optimizer.iterations is tf.compat.v1.train.get_global_step()


def _adam_graph(optimizer_fn, device=None):
  """(graph, train op, weights) of a small MLP trained by ``optimizer_fn()``'s optimizer."""
  with tf.Graph().as_default() as graph:
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal((64, 5), dtype=np.float32))
    y = tf.constant(rng.integers(0, 3, 64))
    with tf.device(device):
      glorot = tf.keras.initializers.GlorotUniform
      layers = [
        tf.keras.layers.Dense(8, 'relu', kernel_initializer=glorot(1)),
        tf.keras.layers.Dense(3, kernel_initializer=glorot(2)),
      ]
      logits = layers[1](layers[0](x))
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
    optimizer = optimizer_fn()
    assert isinstance(optimizer, tf.keras.optimizers.legacy.Adam)
    train_op = _optimizers.minimize(loss, optimizer)
  return graph, train_op, [w for layer in layers for w in layer.weights]


def _op_types(graph):
  return {op.type for op in graph.get_operations()}


def _trained(graph, train_op, weights, steps):
  with tf.compat.v1.Session(graph=graph) as session:
    session.run(tf.compat.v1.global_variables_initializer())
    for _ in range(steps):
      session.run(train_op)
    assert session.run(tf.compat.v1.train.get_global_step(graph)) == steps
    return session.run(weights)


@pytest.mark.parametrize(
  'optimizer',
  [
    'Adam',
    tf.keras.optimizers.legacy.Adam(0.01, beta_1=0.8, epsilon=1e-4),
    tf.keras.optimizers.Adam(0.01),
  ],
  ids=['name', 'legacy_instance', 'new_converted'],
)
def test_adam_on_a_cpu_is_elementwise_and_bitwise_tfs_fused_kernel(optimizer):
  ours = _optimizers.make_optimizer_fn(optimizer, 0.01 if optimizer == 'Adam' else None)
  graph, train_op, weights = _adam_graph(ours)
  with graph.as_default():
    config = ours().get_config()
  # A callable's legacy optimizer is used as it is: TF's fused kernel, same hyperparameters.
  fused = _adam_graph(
    _optimizers.make_optimizer_fn(lambda: tf.keras.optimizers.legacy.Adam.from_config(config))
  )
  assert 'ResourceApplyAdam' not in _op_types(graph)
  assert 'AssignSubVariableOp' in _op_types(graph)
  assert 'ResourceApplyAdam' in _op_types(fused[0])
  ours_weights = _trained(graph, train_op, weights, steps=30)
  assert [w.shape for w in ours_weights] == [(5, 8), (8,), (8, 3), (3,)]
  assert not np.allclose(ours_weights[0], _trained(graph, train_op, weights, steps=1)[0])
  for ours_w, fused_w in zip(ours_weights, _trained(*fused, steps=30)):
    np.testing.assert_array_equal(ours_w, fused_w)


@pytest.mark.parametrize('device,amsgrad', [('/device:GPU:0', False), ('/device:CPU:0', True)])
def test_adam_on_a_gpu_or_with_amsgrad_keeps_tfs_fused_kernel(device, amsgrad):
  # Only built, not run: this machine has no GPU.
  optimizer_fn = _optimizers.make_optimizer_fn(tf.keras.optimizers.legacy.Adam(amsgrad=amsgrad))
  graph, _, _ = _adam_graph(optimizer_fn, device=device)
  assert ('ResourceApplyAdamWithAmsgrad' if amsgrad else 'ResourceApplyAdam') in _op_types(graph)


def test_learning_rate_schedule_follows_the_global_step():
  schedule = tf.keras.optimizers.schedules.ExponentialDecay(1.0, decay_steps=1, decay_rate=0.5)
  optimizer_fn = _optimizers.make_optimizer_fn('SGD', schedule)
  assert optimizer_fn.description == (
    'tf.keras.optimizers.legacy.SGD(learning_rate=ExponentialDecay)'
  )
  with tf.Graph().as_default():
    optimizer = optimizer_fn()
    rate = optimizer._decayed_lr(tf.float32)
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      session.run(tf.compat.v1.assign(tf.compat.v1.train.get_global_step(), 3))
      assert session.run(rate) == pytest.approx(0.125)


def test_name_without_learning_rate_uses_the_optimizer_default_as_canned():
  with tf.Graph().as_default():
    optimizer = _optimizers.make_optimizer_fn('Adagrad')()
  assert optimizer.get_config()['learning_rate'] == pytest.approx(
    tf.keras.optimizers.legacy.Adagrad().get_config()['learning_rate']
  )


def test_new_keras_optimizer_converts_with_the_same_hyperparameters():
  optimizer_fn = _optimizers.make_optimizer_fn(
    tf.keras.optimizers.Adam(0.02, beta_1=0.8, beta_2=0.99, epsilon=1e-5, clipnorm=1.0)
  )
  with tf.Graph().as_default():
    legacy = optimizer_fn()
  assert type(legacy) is _optimizers._Adam  # legacy.Adam, with its CPU update.
  config = legacy.get_config()
  assert config['learning_rate'] == pytest.approx(0.02)
  assert (config['beta_1'], config['beta_2'], config['epsilon'], config['clipnorm']) == (
    pytest.approx(0.8),
    pytest.approx(0.99),
    pytest.approx(1e-5),
    1.0,
  )
  assert 'converted from tf.keras.optimizers.Adam' in optimizer_fn.description


def test_legacy_keras_instance_is_cloned_per_graph_and_tied_to_its_global_step():
  given = tf.keras.optimizers.legacy.RMSprop(0.03)
  optimizer_fn = _optimizers.make_optimizer_fn(given)
  made = []
  for _ in range(2):
    with tf.Graph().as_default():
      made.append(optimizer_fn())
      assert made[-1].iterations is tf.compat.v1.train.get_global_step()
  assert made[0] is not made[1] and given not in made


def test_optimizer_fn_survives_the_estimator_params_deepcopy(small_data, boring_input_fn, tmp_path):
  x, y = small_data
  optimizer_fn = make_optimizer_fn(tf.keras.optimizers.Adam(0.01))  # Itself not deep-copyable.
  assert copy.deepcopy(optimizer_fn).description == optimizer_fn.description
  assert make_optimizer_fn(optimizer_fn) is optimizer_fn
  estimator = tf.estimator.Estimator(
    classifier_model_fn,
    model_dir=str(tmp_path),
    params=dict(feature_keys=['f0', 'f1'], hidden_units=[4], n_classes=3, optimizer=optimizer_fn),
  )
  estimator.train(boring_input_fn(x, y, repeat=False), hooks=[_RunLimitHook(RUNS)])
  assert estimator.get_variable_value('global_step') == RUNS


def test_callable_may_wire_the_global_step_itself():
  def make():
    optimizer = tf.keras.optimizers.legacy.SGD(0.1)
    optimizer.iterations = tf.compat.v1.train.get_or_create_global_step()
    return optimizer

  with tf.Graph().as_default():
    optimizer = make_optimizer_fn(make)()
    assert optimizer.iterations is tf.compat.v1.train.get_global_step()


def test_unknown_name_is_refused():
  with pytest.raises(
    exceptions.ArgumentError,
    match=r"optimizer must be one of 'Adagrad', 'Adam', 'Ftrl', 'RMSProp', "
    r"'SGD' \(any case\).*given: 'adamw'",
  ):
    _optimizers.make_optimizer_fn('adamw')


def test_wrong_type_is_refused():
  with pytest.raises(exceptions.ArgumentTypeError, match=r'optimizer must be one of .*given: 3'):
    _optimizers.make_optimizer_fn(3)


@pytest.mark.parametrize('learning_rate', [0, -0.1, float('nan'), '0.1', True])
def test_bad_learning_rate_is_refused(learning_rate):
  with pytest.raises(
    exceptions.ArgumentError,
    match=r'learning_rate must be a positive finite number, given: .*or a '
    r'tf.keras.optimizers.schedules.LearningRateSchedule',
  ):
    _optimizers.make_optimizer_fn('Adam', learning_rate)


def test_learning_rate_with_an_optimizer_instance_is_refused():
  with pytest.raises(
    exceptions.ArgumentError,
    match=r'learning_rate must be None when optimizer is not a name, given: '
    r'0.1\. set the learning rate on the optimizer itself',
  ):
    _optimizers.make_optimizer_fn(tf.keras.optimizers.legacy.Adam(), 0.1)


def test_params_names_appear_in_messages():
  with pytest.raises(
    exceptions.ArgumentError, match=r'params\["learning_rate"\] must be a positive finite number'
  ):
    _optimizers.make_optimizer_fn('Adam', -1, name='params["optimizer"]')


def test_new_keras_optimizer_without_legacy_twin_is_refused():
  with pytest.raises(
    exceptions.ArgumentError,
    match=r'tf.keras.optimizers.AdamW has no legacy equivalent.*use one of '
    r'tf.keras.optimizers.legacy.Adadelta',
  ):
    _optimizers.make_optimizer_fn(tf.keras.optimizers.AdamW(0.01))


def test_new_keras_optimizer_with_weight_decay_is_refused_not_silently_dropped():
  with pytest.raises(
    exceptions.ArgumentError,
    match=r'optimizer must be convertible to a legacy Keras optimizer.*'
    r'weight_decay=0.1.*would be dropped',
  ):
    _optimizers.make_optimizer_fn(tf.keras.optimizers.SGD(0.1, weight_decay=0.1))


def test_callable_returning_something_else_is_refused_in_the_graph():
  optimizer_fn = _optimizers.make_optimizer_fn(lambda: 'adam')
  with tf.Graph().as_default():
    with pytest.raises(
      exceptions.ArgumentTypeError,
      match=r'what the optimizer callable <lambda> returned must be a '
      r'tf.compat.v1.train.Optimizer or a tf.keras optimizer, given: '
      r"'adam'",
    ):
      optimizer_fn()


def test_callable_returning_one_used_legacy_instance_is_refused_clearly():
  shared = tf.keras.optimizers.legacy.SGD(0.1)
  optimizer_fn = _optimizers.make_optimizer_fn(lambda: shared)
  for attempt in range(2):
    with tf.Graph().as_default():
      variable = tf.Variable(1.0)
      if attempt == 0:
        _optimizers.minimize(variable * 2.0, optimizer_fn())
      else:
        with pytest.raises(
          exceptions.ArgumentError,
          match=r'already has weights from another graph.*Return a new '
          r'optimizer from the callable',
        ):
          optimizer_fn()


def test_minimize_without_trainable_variables_is_refused():
  with tf.Graph().as_default():
    with pytest.raises(exceptions.ArgumentError, match=r'the model has no trainable variables'):
      _optimizers.minimize(tf.constant(1.0), _optimizers.make_optimizer_fn('SGD')())


def test_minimize_without_gradients_is_refused():
  with tf.Graph().as_default():
    tf.Variable(1.0)
    with pytest.raises(
      exceptions.ArgumentError, match=r'the loss does not depend on any trainable variable'
    ):
      _optimizers.minimize(tf.constant(1.0), _optimizers.make_optimizer_fn('SGD')())
