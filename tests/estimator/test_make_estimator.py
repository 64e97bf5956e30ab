"""make_estimator: a real Estimator; arguments refused before any graph; seeds; wrapping."""

import json
import os
import threading
import warnings

import numpy as np
import pytest
import tensorflow as tf

from conftest import boring_input_fn
from conftest import boring_model_fn
import tfest_adapters as tfa
from tfest_adapters import exceptions
from tfest_adapters.estimator import _make


def _files(directory):
  return sorted(os.listdir(directory)) if os.path.isdir(directory) else None


def test_returns_a_real_estimator_with_placement_and_options(tmp_path):
  est = tfa.make_estimator(
    boring_model_fn,
    params={'n_classes': 3},
    model_dir=tmp_path / 'm',
    seed=7,
    save_checkpoints_steps=5,
    keep_checkpoint_max=2,
  )
  assert isinstance(est, tf.estimator.Estimator)
  assert type(est).__mro__[1] is tf.estimator.Estimator  # A thin subclass of TF's own.
  assert est.model_dir == str(tmp_path / 'm')
  assert est.params == {'n_classes': 3}
  config = est.config
  assert config.tf_random_seed == 7
  assert config.save_checkpoints_steps == 5 and config.save_checkpoints_secs is None
  assert config.keep_checkpoint_max == 2
  assert config.session_config.allow_soft_placement
  assert config.session_config.gpu_options.allow_growth
  assert config.train_distribute is None  # No GPU here: nothing to mirror.
  assert est.model_fn is not None


def test_config_is_a_base_that_options_override_and_is_not_modified(tmp_path):
  base = tf.estimator.RunConfig(
    model_dir=str(tmp_path / 'm'), save_checkpoints_steps=100, log_step_count_steps=7
  )
  est = tfa.make_estimator(boring_model_fn, config=base, save_checkpoints_secs=30)
  assert est.model_dir == str(tmp_path / 'm')
  assert est.config.save_checkpoints_secs == 30
  assert est.config.save_checkpoints_steps is None
  assert est.config.log_step_count_steps == 7
  assert base.save_checkpoints_steps == 100 and base.session_config is None


def test_temporary_model_dir_is_created_with_a_warning():
  with pytest.warns(UserWarning, match='model_dir not given: training into the temporary'):
    est = tfa.make_estimator(boring_model_fn)
  assert os.path.isdir(est.model_dir)
  os.rmdir(est.model_dir)


def _model_fn_without_params(features, labels, mode):
  del features, labels, mode


def _model_fn_without_features(x, labels, mode):
  del x, labels, mode


def _model_fn_with_hidden_units(features, labels, mode, hidden_units):
  del features, labels, mode, hidden_units


def _a_file(path):
  path.write_text('x')
  return path


# make_estimator's arguments (a function of the model_dir it may use), the error, its message.
_REFUSED = [
  pytest.param(
    lambda m: dict(save_checkpoint_steps=10),
    exceptions.ArgumentError,
    "'save_checkpoint_steps' is not a make_estimator argument nor a tf.estimator.RunConfig "
    "option; did you mean 'save_checkpoints_steps'",
    id='run-config-typo',
  ),
  pytest.param(
    lambda m: dict(save_checkpoints_steps=10, save_checkpoints_secs=60),
    exceptions.ArgumentError,
    'save_checkpoints_steps and save_checkpoints_secs cannot both be set, given: '
    'save_checkpoints_steps=10, save_checkpoints_secs=60',
    id='steps-and-secs',
  ),
  pytest.param(
    lambda m: dict(keep_checkpoint_max=-1),
    exceptions.ArgumentError,
    'keep_checkpoint_max must be a non-negative int, given: -1',
    id='keep-checkpoint-max',
  ),
  pytest.param(
    lambda m: dict(log_step_count_steps=0),
    exceptions.ArgumentError,
    'log_step_count_steps must be a positive int, given: 0',
    id='log-step-count-steps',
  ),
  pytest.param(
    lambda m: dict(save_checkpoints_steps=2.5),
    exceptions.ArgumentError,
    'save_checkpoints_steps must be a positive int, given: 2.5',
    id='checkpoint-steps-float',
  ),
  pytest.param(
    lambda m: dict(protocol='http'),
    exceptions.ArgumentError,
    "protocol must be one of 'grpc', 'grpc\\+verbs', given: 'http'",
    id='protocol',
  ),
  pytest.param(
    lambda m: dict(session_config={'a': 1}),
    exceptions.ArgumentTypeError,
    'session_config must be a tf.compat.v1.ConfigProto',
    id='session-config-type',
  ),
  pytest.param(
    lambda m: dict(model_fn=_model_fn_without_params, params={'lr': 0.1}),
    exceptions.ArgumentError,
    r"params were given \(\{'lr': 0.1\}.*takes no `params` argument "
    r'\(its arguments are features, labels, mode\). Add a `params`',
    id='params-without-params-argument',
  ),
  pytest.param(
    lambda m: dict(model_fn=_model_fn_without_features),
    exceptions.ArgumentError,
    'model_fn must be a function with a `features` argument.*'
    r'Its arguments are \(x, labels, mode\)',
    id='model-fn-without-features',
  ),
  pytest.param(
    lambda m: dict(model_fn=_model_fn_with_hidden_units),
    exceptions.ArgumentError,
    'It also takes hidden_units, which the Estimator never passes',
    id='model-fn-argument-never-passed',
  ),
  pytest.param(
    lambda m: dict(params=[1]),
    exceptions.ArgumentTypeError,
    r'params must be a dict of hyperparameters or None, given: \[1\]',
    id='params-type',
  ),
  pytest.param(
    lambda m: dict(params={'n_classes': 3, 'lock': threading.Lock()}),
    exceptions.ArgumentError,
    r"^params\['lock'\] must be a value the Estimator can deep-copy \(it copies params\), "
    r'given: <unlocked _thread.lock object at 0x\w+> \(lock\). copy.deepcopy failed with '
    r"TypeError: cannot pickle '_thread.lock' object. Put a value that can be copied there",
    id='params-value-not-deep-copyable',
  ),
  pytest.param(
    lambda m: dict(params={'optimizer': tf.keras.optimizers.Adam(1e-3)}),
    exceptions.ArgumentError,
    r"^params\['optimizer'\] must be a value the Estimator can deep-copy .*"
    r"Give a name such as 'Adam', or tfest_adapters.models.make_optimizer_fn\(optimizer\)",
    id='params-optimizer-of-a-custom-model-fn',
  ),
  pytest.param(
    lambda m: dict(model_fn='boring'),
    exceptions.ArgumentTypeError,
    'model_fn must be callable',
    id='model-fn-not-callable',
  ),
  pytest.param(
    lambda m: dict(model_dir=_a_file(m)),
    exceptions.ArgumentError,
    'model_dir must be a directory, or a path where one can be created.*A file is already there',
    id='model-dir-is-a-file',
  ),
  pytest.param(
    lambda m: dict(config=tf.estimator.RunConfig(model_dir=str(m.parent / 'a'))),
    exceptions.ArgumentError,
    'model_dir and config.model_dir differ',
    id='model-dir-and-config-differ',
  ),
  pytest.param(
    lambda m: dict(warm_start_from=str(m.parent / 'nowhere')),
    exceptions.ArgumentError,
    'warm_start_from must be an existing checkpoint prefix.*given: '
    "'.*nowhere'. Nothing to warm-start from",
    id='warm-start-missing',
  ),
  pytest.param(
    lambda m: dict(seed=-1),
    exceptions.ArgumentError,
    'seed must be a non-negative int, given: -1',
    id='seed-negative',
  ),
  pytest.param(
    lambda m: dict(seed=1, tf_random_seed=2),
    exceptions.ArgumentError,
    'seed and tf_random_seed disagree, given: seed=1, tf_random_seed=2',
    id='seed-and-tf-random-seed',
  ),
]


@pytest.mark.parametrize('arguments, error, match', _REFUSED)
def test_arguments_are_refused_before_any_graph(tmp_path, arguments, error, match):
  """Refused up front: no model_dir is made, and a file in its place is left alone."""
  model_dir = tmp_path / 'm'
  kwargs = dict(dict(model_fn=boring_model_fn, model_dir=model_dir), **arguments(model_dir))
  with pytest.raises(error, match=match):
    tfa.make_estimator(**kwargs)
  assert not model_dir.is_dir()
  if model_dir.exists():
    assert model_dir.read_text() == 'x'


def test_seed_seeds_numpy_for_data_order(tmp_path):
  tfa.make_estimator(boring_model_fn, model_dir=tmp_path, seed=3)
  assert np.random.rand() == np.random.RandomState(3).rand()


def _keras_model_fn(features, labels, mode, params):
  """Keras layers (initialized from Keras' seed generator) and no `config` argument."""
  x = tf.stack([features['f%d' % i] for i in range(4)], axis=1)
  logits = tf.keras.layers.Dense(3, name='out')(tf.keras.layers.Dense(5, name='hid')(x))
  loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
  train_op = tf.compat.v1.train.GradientDescentOptimizer(params['lr']).minimize(
    loss, global_step=tf.compat.v1.train.get_global_step()
  )
  return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


def test_same_seed_same_initial_weights_keras_included(tmp_path, small_data):
  features, labels = small_data
  kernels = []
  for name, seed in (('a', 0), ('b', 0), ('c', 1)):
    est = tfa.make_estimator(
      _keras_model_fn, params={'lr': 0.0}, model_dir=tmp_path / name, seed=seed
    )
    est.train(boring_input_fn(features, labels), steps=1)
    kernels.append(est.get_variable_value('hid/kernel'))
  np.testing.assert_array_equal(kernels[0], kernels[1])
  assert not np.allclose(kernels[0], kernels[2])


def test_wrapped_model_fn_refuses_labels_it_does_not_take(tmp_path, small_data):
  def model_fn(features, mode):
    del features, mode

  features, labels = small_data
  est = tfa.make_estimator(model_fn, model_dir=tmp_path)
  with pytest.raises(ValueError, match='model_fn does not take labels, but input_fn returns'):
    est.train(boring_input_fn(features, labels), steps=1)


def test_seeded_model_fn_passes_only_named_arguments():
  seen = {}

  def model_fn(features, config):
    seen.update(features=features, config=config)
    return 'spec'

  wrapped = _make.seeded_model_fn(model_fn)
  config = tf.estimator.RunConfig(tf_random_seed=None)
  with tf.Graph().as_default():
    assert wrapped({'f': 1}, None, 'train', {'p': 1}, config) == 'spec'
  assert seen == {'features': {'f': 1}, 'config': config}
  assert wrapped.__name__ == 'model_fn'


def test_warm_start_from_an_existing_model_dir(tmp_path, small_data):
  features, labels = small_data
  first = tfa.make_estimator(boring_model_fn, model_dir=tmp_path / 'a', seed=0)
  first.train(boring_input_fn(features, labels), steps=2)
  before = _files(first.model_dir)
  second = tfa.make_estimator(
    boring_model_fn, model_dir=tmp_path / 'b', seed=5, warm_start_from=first.model_dir
  )
  with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    second.train(boring_input_fn(features, labels, batch_size=64), steps=1)
  assert _files(first.model_dir) == before
  # Warm-started: one more step from the first model's weights, not from a new init.
  w_first = first.get_variable_value('logits/kernel')
  w_second = second.get_variable_value('logits/kernel')
  assert np.max(np.abs(w_second - w_first)) < 0.2


def test_model_dir_from_tf_config_is_used(tmp_path, monkeypatch):
  monkeypatch.setenv('TF_CONFIG', json.dumps({'model_dir': str(tmp_path / 'from_env')}))
  with warnings.catch_warnings():
    warnings.simplefilter('error')  # No temporary-directory warning.
    est = tfa.make_estimator(boring_model_fn)
  assert est.model_dir == str(tmp_path / 'from_env')


_TEMPLATE_PARAMS = dict(feature_keys=['f0', 'f1', 'f2', 'f3'], hidden_units=[8], n_classes=3)


def _trained_weights(model_dir, small_data, **optimizer):
  estimator = tfa.make_estimator(
    tfa.classifier_model_fn, dict(_TEMPLATE_PARAMS, **optimizer), model_dir, seed=0
  )
  estimator.train(boring_input_fn(*small_data), steps=20)
  return {
    name: estimator.get_variable_value(name)
    for name in estimator.get_variable_names()
    if name.startswith('dnn/')
  }


@pytest.mark.parametrize(
  'make',
  [
    pytest.param(lambda: tf.keras.optimizers.Adam(1e-3), id='keras'),
    pytest.param(lambda: tf.keras.optimizers.legacy.Adam(1e-3), id='legacy-keras'),
  ],
)
def test_a_templates_keras_optimizer_object_trains_as_its_name(tmp_path, small_data, make):
  """params['optimizer'] = tf.keras.optimizers.Adam(1e-3) is what a Keras user writes."""
  params = dict(_TEMPLATE_PARAMS, optimizer=make())
  estimator = tfa.make_estimator(tfa.classifier_model_fn, params, tmp_path / 'probe', seed=0)
  assert 'legacy.Adam' in estimator.params['optimizer'].description
  assert type(params['optimizer']) is type(make())  # The caller's dict is left as it was.
  by_object = _trained_weights(tmp_path / 'object', small_data, optimizer=make())
  by_name = _trained_weights(tmp_path / 'name', small_data, optimizer='Adam', learning_rate=1e-3)
  assert sorted(by_object) == sorted(by_name) and len(by_name) == 4
  for name, value in by_name.items():
    np.testing.assert_array_equal(by_object[name], value, err_msg=name)


def test_wide_and_deep_keras_optimizer_objects_are_converted_too(tmp_path):
  """linear_optimizer and dnn_optimizer are the wide-and-deep templates' optimizer params."""
  params = dict(
    linear_feature_columns=[tf.feature_column.numeric_column('x')],
    dnn_feature_columns=[tf.feature_column.numeric_column('x')],
    dnn_hidden_units=[3],
    linear_optimizer=tf.keras.optimizers.Ftrl(0.05),
    dnn_optimizer=tf.keras.optimizers.Adagrad(0.05),
  )
  estimator = tfa.make_estimator(tfa.wide_deep_classifier_model_fn, params, tmp_path / 'm')
  assert 'legacy.Ftrl' in estimator.params['linear_optimizer'].description
  assert 'legacy.Adagrad' in estimator.params['dnn_optimizer'].description
