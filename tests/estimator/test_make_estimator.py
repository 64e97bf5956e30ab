"""make_estimator: a real Estimator; arguments refused before any graph; seeds; wrapping."""

import json
import os
import warnings

import numpy as np
import pytest
import tensorflow as tf

from conftest import boring_input_fn
from conftest import boring_model_fn
from tfest_adapters.estimator import _make
from tfest_adapters import exceptions
import tfest_adapters as tfa


def _files(directory):
  return sorted(os.listdir(directory)) if os.path.isdir(directory) else None


def test_returns_a_real_estimator_with_placement_and_options(tmp_path):
  est = tfa.make_estimator(boring_model_fn, params={'n_classes': 3}, model_dir=tmp_path / 'm',
                           seed=7, save_checkpoints_steps=5, keep_checkpoint_max=2)
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
  base = tf.estimator.RunConfig(model_dir=str(tmp_path / 'm'), save_checkpoints_steps=100,
                                log_step_count_steps=7)
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


@pytest.mark.parametrize('options, match', [
    (dict(save_checkpoint_steps=10),
     "'save_checkpoint_steps' is not a make_estimator argument nor a tf.estimator.RunConfig "
     "option; did you mean 'save_checkpoints_steps'"),
    (dict(save_checkpoints_steps=10, save_checkpoints_secs=60),
     'save_checkpoints_steps and save_checkpoints_secs cannot both be set, given: '
     'save_checkpoints_steps=10, save_checkpoints_secs=60'),
    (dict(keep_checkpoint_max=-1), 'keep_checkpoint_max must be a non-negative int, given: -1'),
    (dict(log_step_count_steps=0), 'log_step_count_steps must be a positive int, given: 0'),
    (dict(save_checkpoints_steps=2.5),
     'save_checkpoints_steps must be a positive int, given: 2.5'),
    (dict(protocol='http'), "protocol must be one of 'grpc', 'grpc\\+verbs', given: 'http'"),
])
def test_run_config_options_are_refused_up_front(tmp_path, options, match):
  with pytest.raises(exceptions.ArgumentError, match=match):
    tfa.make_estimator(boring_model_fn, model_dir=tmp_path / 'm', **options)
  assert not (tmp_path / 'm').exists()


def test_session_config_of_wrong_type_is_a_type_error(tmp_path):
  with pytest.raises(exceptions.ArgumentTypeError,
                     match='session_config must be a tf.compat.v1.ConfigProto'):
    tfa.make_estimator(boring_model_fn, model_dir=tmp_path, session_config={'a': 1})


def test_params_given_to_a_model_fn_without_params(tmp_path):
  def model_fn(features, labels, mode):
    del features, labels, mode
  with pytest.raises(exceptions.ArgumentError,
                     match=r"params were given \(\{'lr': 0.1\}.*takes no `params` argument "
                     r'\(its arguments are features, labels, mode\). Add a `params`'):
    tfa.make_estimator(model_fn, params={'lr': 0.1}, model_dir=tmp_path)


def test_model_fn_without_features(tmp_path):
  def model_fn(x, labels, mode):
    del x, labels, mode
  with pytest.raises(exceptions.ArgumentError,
                     match='model_fn must be a function with a `features` argument.*'
                     r'Its arguments are \(x, labels, mode\)'):
    tfa.make_estimator(model_fn, model_dir=tmp_path)


def test_model_fn_with_an_argument_the_estimator_never_passes(tmp_path):
  def model_fn(features, labels, mode, hidden_units):
    del features, labels, mode, hidden_units
  with pytest.raises(exceptions.ArgumentError,
                     match='It also takes hidden_units, which the Estimator never passes'):
    tfa.make_estimator(model_fn, model_dir=tmp_path)


def test_params_must_be_a_dict(tmp_path):
  with pytest.raises(exceptions.ArgumentTypeError,
                     match=r'params must be a dict of hyperparameters or None, given: \[1\]'):
    tfa.make_estimator(boring_model_fn, params=[1], model_dir=tmp_path)


def test_model_fn_must_be_callable(tmp_path):
  with pytest.raises(exceptions.ArgumentTypeError, match='model_fn must be callable'):
    tfa.make_estimator('boring', model_dir=tmp_path)


def test_model_dir_that_is_a_file(tmp_path):
  path = tmp_path / 'file'
  path.write_text('x')
  with pytest.raises(exceptions.ArgumentError,
                     match='model_dir must be a directory, or a path where one can be created'
                     '.*A file is already there'):
    tfa.make_estimator(boring_model_fn, model_dir=path)
  assert path.read_text() == 'x'


def test_model_dir_and_config_model_dir_differ(tmp_path):
  config = tf.estimator.RunConfig(model_dir=str(tmp_path / 'a'))
  with pytest.raises(exceptions.ArgumentError, match='model_dir and config.model_dir differ'):
    tfa.make_estimator(boring_model_fn, model_dir=tmp_path / 'b', config=config)


def test_warm_start_from_a_path_that_does_not_exist(tmp_path):
  with pytest.raises(exceptions.ArgumentError,
                     match="warm_start_from must be an existing checkpoint prefix.*given: "
                     "'.*nowhere'. Nothing to warm-start from"):
    tfa.make_estimator(boring_model_fn, model_dir=tmp_path / 'm',
                       warm_start_from=str(tmp_path / 'nowhere'))


def test_seed_must_be_a_non_negative_int_and_agree_with_tf_random_seed(tmp_path):
  with pytest.raises(exceptions.ArgumentError, match='seed must be a non-negative int, given: -1'):
    tfa.make_estimator(boring_model_fn, model_dir=tmp_path, seed=-1)
  with pytest.raises(exceptions.ArgumentError,
                     match='seed and tf_random_seed disagree, given: seed=1, tf_random_seed=2'):
    tfa.make_estimator(boring_model_fn, model_dir=tmp_path, seed=1, tf_random_seed=2)


def test_seed_seeds_numpy_for_data_order(tmp_path):
  tfa.make_estimator(boring_model_fn, model_dir=tmp_path, seed=3)
  assert np.random.rand() == np.random.RandomState(3).rand()


def _keras_model_fn(features, labels, mode, params):
  """Keras layers (initialized from Keras' seed generator) and no `config` argument."""
  x = tf.stack([features['f%d' % i] for i in range(4)], axis=1)
  logits = tf.keras.layers.Dense(3, name='out')(tf.keras.layers.Dense(5, name='hid')(x))
  loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
  train_op = tf.compat.v1.train.GradientDescentOptimizer(params['lr']).minimize(
      loss, global_step=tf.compat.v1.train.get_global_step())
  return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


def test_same_seed_same_initial_weights_keras_included(tmp_path, small_data):
  features, labels = small_data
  kernels = []
  for name, seed in (('a', 0), ('b', 0), ('c', 1)):
    est = tfa.make_estimator(_keras_model_fn, params={'lr': 0.0},
                             model_dir=tmp_path / name, seed=seed)
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
  second = tfa.make_estimator(boring_model_fn, model_dir=tmp_path / 'b', seed=5,
                              warm_start_from=first.model_dir)
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
