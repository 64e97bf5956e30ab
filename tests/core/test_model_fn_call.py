"""call_model_fn (tfest_adapters/model_fn_call.py): the Estimator's way of calling a model_fn."""

import pytest

from tfest_adapters._core import model_fn_call


def _labels_error():
  return ValueError('no labels argument')


def test_passes_only_the_arguments_the_model_fn_names():
  def model_fn(features, mode, config):
    return features, mode, config

  assert model_fn_call.call_model_fn(
    model_fn, ('features', 'mode', 'config'), 'f', None, 'train', {'p': 1}, 'cfg', _labels_error
  ) == ('f', 'train', 'cfg')


def test_passes_every_argument_to_a_model_fn_naming_all():
  def model_fn(features, labels, mode, params, config):
    return features, labels, mode, params, config

  assert model_fn_call.call_model_fn(
    model_fn, model_fn_call.VALID_ARGS, 'f', 'l', 'eval', {'p': 1}, 'cfg', _labels_error
  ) == ('f', 'l', 'eval', {'p': 1}, 'cfg')


def test_labels_for_a_model_fn_without_labels_raise_the_estimators_error_by_default():
  with pytest.raises(
    ValueError, match=r'^model_fn does not take labels, but input_fn returns labels\.$'
  ):
    model_fn_call.call_model_fn(
      lambda features: features, ('features',), 'f', 'l', None, None, None
    )


def test_labels_for_a_model_fn_without_labels_raise_the_callers_error():
  with pytest.raises(ValueError, match='^no labels argument$'):
    model_fn_call.call_model_fn(
      lambda features: features, ('features',), 'f', 'l', None, None, None, _labels_error
    )
