"""The checks fit and train_and_evaluate share: one table per rule, run through both."""

import os

import numpy as np
import pytest

from conftest import boring_input_fn
from conftest import boring_model_fn
from conftest import small_arrays
import tfest_adapters as tfa
from tfest_adapters import exceptions

FEATURES, LABELS = small_arrays()
TRAIN = boring_input_fn(FEATURES, LABELS)
EVAL = boring_input_fn(FEATURES, LABELS, batch_size=32, repeat=False)


def _fit(estimator, train_input_fn=TRAIN, **kwargs):
  return tfa.fit(estimator, train_input_fn, progress=False, **kwargs)


def _train_and_evaluate(estimator, train_input_fn=TRAIN, **kwargs):
  eval_input_fn = kwargs.pop('eval_input_fn', EVAL)
  return tfa.train_and_evaluate(estimator, train_input_fn, eval_input_fn, **kwargs)


_CALLERS = pytest.mark.parametrize(
  'call', [_fit, _train_and_evaluate], ids=['fit', 'train_and_evaluate']
)


def _listing(directory):
  return {name: os.path.getmtime(os.path.join(directory, name)) for name in os.listdir(directory)}


@pytest.fixture(scope='module')
def untrained(tmp_path_factory):
  return tfa.make_estimator(
    boring_model_fn,
    params={},
    save_checkpoints_steps=10,
    model_dir=str(tmp_path_factory.mktemp('untrained') / 'm'),
  )


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  """An Estimator whose model_dir holds a checkpoint at step 3."""
  est = tfa.make_estimator(
    boring_model_fn,
    params={},
    save_checkpoints_steps=10,
    seed=0,
    model_dir=str(tmp_path_factory.mktemp('trained') / 'm'),
  )
  tfa.fit(est, TRAIN, max_steps=3, progress=False)
  return est


@_CALLERS
def test_estimator_must_be_an_estimator(call):
  with pytest.raises(
    exceptions.ArgumentTypeError, match='estimator must be a tf.estimator.Estimator, given: '
  ):
    call('estimator', max_steps=1)


@pytest.mark.parametrize(
  'call, kwargs',
  [
    (_fit, dict(hooks=['not a hook'])),
    (_train_and_evaluate, dict(train_hooks=['not a hook'])),
    (_train_and_evaluate, dict(eval_hooks=['not a hook'])),
  ],
  ids=['fit', 'train_and_evaluate-train_hooks', 'train_and_evaluate-eval_hooks'],
)
def test_hooks_must_be_session_run_hooks(untrained, call, kwargs):
  with pytest.raises(
    exceptions.ArgumentTypeError, match='hooks must be a list of tf.compat.v1.train.SessionRunHook'
  ):
    call(untrained, max_steps=10, **kwargs)
  assert not os.path.exists(untrained.model_dir) or not os.listdir(untrained.model_dir)


@pytest.mark.parametrize(
  'call, kwargs, match',
  [
    (
      _fit,
      dict(),
      'train_input_fn repeats forever .*so training would never end. Pass steps or max_steps',
    ),
    (_train_and_evaluate, dict(), 'train input_fn repeats forever .*Pass steps or max_steps'),
    (
      _fit,
      dict(max_steps=10, eval_input_fn=TRAIN),
      'eval_input_fn repeats forever .*so evaluation would never end. Pass eval_steps',
    ),
    (
      _train_and_evaluate,
      dict(max_steps=5, eval_input_fn=TRAIN),
      'eval input_fn repeats forever .*Pass eval_steps',
    ),
  ],
  ids=['fit-train', 'train_and_evaluate-train', 'fit-eval', 'train_and_evaluate-eval'],
)
def test_an_endless_input_needs_a_bound(untrained, call, kwargs, match):
  with pytest.raises(exceptions.ArgumentError, match=match):
    call(untrained, **kwargs)
  assert not os.path.exists(untrained.model_dir) or not os.listdir(untrained.model_dir)


@_CALLERS
def test_max_steps_already_reached_names_the_checkpoint_and_touches_nothing(trained, call):
  before = _listing(trained.model_dir)
  with pytest.raises(
    exceptions.ModelDirError,
    match=r'max_steps=2 is already reached: the latest checkpoint in .* is '
    r'at step 3 \(.*model.ckpt-3\)',
  ):
    call(trained, max_steps=2)
  assert _listing(trained.model_dir) == before


@_CALLERS
def test_the_checks_take_no_seed_so_training_reads_what_train_reads(call, tmp_path):
  def seeded_input_fn():  # A builder's input_fn: each call draws the next seed of seed 3.
    return tfa.numpy_input_fn(FEATURES, LABELS, batch_size=4, num_epochs=None, shuffle=True, seed=3)

  def weights(name, train):
    est = tfa.make_estimator(boring_model_fn, {}, str(tmp_path / name), seed=0)
    train(est)
    return {v: est.get_variable_value(v) for v in est.get_variable_names() if 'global' not in v}

  reference = weights('train', lambda est: est.train(seeded_input_fn(), max_steps=6))
  ours = weights('ours', lambda est: call(est, max_steps=6, train_input_fn=seeded_input_fn()))
  assert sorted(ours) == sorted(reference)
  for name, value in reference.items():
    np.testing.assert_array_equal(ours[name], value, err_msg=name)
