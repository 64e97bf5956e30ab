"""The group-of-batches format (tfest_adapters/_core/groups.py): keys, elements, steps_per_run."""

import re
import threading

import numpy as np
import pytest
import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters._core import groups
from tfest_adapters._core.groups import FEATURES_KEY
from tfest_adapters._core.groups import ROWS_KEY
from tfest_adapters.keys import GroupKeys

ModeKeys = tf.estimator.ModeKeys


def test_the_reserved_keys_are_the_public_group_keys():
  assert (ROWS_KEY, FEATURES_KEY, groups.PACKED_PREFIX) == (
    GroupKeys.ROWS,
    GroupKeys.FEATURES,
    GroupKeys.PACKED_PREFIX,
  )


def test_packed_keys_name_the_columns_of_a_matrix():
  key = groups.packed_key(['b', 'a', 'c'])
  assert key.startswith(groups.PACKED_PREFIX)
  assert groups.packed_keys(key) == ['b', 'a', 'c'] and groups.packed_keys('a') is None
  assert groups.packed_keys(3) is None
  features = {key: None, 'n': None, ROWS_KEY: None}
  assert groups.feature_keys(features) == ['b', 'a', 'c', 'n']
  assert groups.feature_keys({FEATURES_KEY: None, ROWS_KEY: None}) == []


def test_is_group():
  assert groups.is_group({ROWS_KEY: 1, 'x': 2})
  assert not groups.is_group({'x': 2})
  assert not groups.is_group(tf.zeros([2]))


def test_is_group_spec_looks_at_the_features():
  group = {ROWS_KEY: tf.TensorSpec([None], tf.int32), 'x': tf.TensorSpec([None, 2])}
  assert groups.is_group_spec(group)
  assert groups.is_group_spec((group, tf.TensorSpec([None, 2])))
  assert not groups.is_group_spec(({'x': tf.TensorSpec([2])}, tf.TensorSpec([2])))
  assert not groups.is_group_spec(tf.TensorSpec([2]))


def test_with_rows_puts_the_row_counts_among_the_features():
  rows = np.array([2, 2], np.int32)
  assert groups.with_rows({'x': 1, 'dropped': None}, rows) == {'x': 1, ROWS_KEY: rows}
  features, labels, extra = groups.with_rows(({'x': 1}, 'labels', 'extra'), rows)
  assert features == {'x': 1, ROWS_KEY: rows} and (labels, extra) == ('labels', 'extra')
  assert groups.with_rows('tensor', rows) == {FEATURES_KEY: 'tensor', ROWS_KEY: rows}
  features, labels = groups.with_rows(('tensor', 'labels'), rows)
  assert features == {FEATURES_KEY: 'tensor', ROWS_KEY: rows} and labels == 'labels'


def test_with_rows_carries_packed_matrices_instead_of_their_columns():
  key = groups.packed_key(['a', 'b'])
  features = groups.with_rows({'a': None, 'b': None, 'c': 3}, 'rows', packs={key: 'matrix'})
  assert features == {'c': 3, key: 'matrix', ROWS_KEY: 'rows'}


@pytest.mark.parametrize(
  'mode, params, steps_per_run, expected',
  [
    (ModeKeys.TRAIN, {'steps_per_run': 3}, None, 3),
    (ModeKeys.TRAIN, {'steps_per_run': 3}, 5, 5),
    (None, {'steps_per_run': 3}, None, 3),
    (ModeKeys.EVAL, {'steps_per_run': 3}, None, 1),
    (ModeKeys.PREDICT, {'steps_per_run': 3}, 5, 1),
    (ModeKeys.TRAIN, None, None, 1),
    (ModeKeys.TRAIN, {}, None, 1),
    (ModeKeys.TRAIN, {'steps_per_run': None}, None, 1),
    (ModeKeys.TRAIN, 'not a dict', None, 1),
  ],
)
def test_steps_per_run_of(mode, params, steps_per_run, expected):
  assert groups.steps_per_run_of(mode, params, steps_per_run) == expected


def test_accepted_steps_per_run():
  assert groups.validate_steps_per_run(None) is None
  assert groups.validate_steps_per_run(np.int64(4)) == 4
  assert groups.check_params_steps_per_run(8) == 8
  assert groups.params_steps_per_run({groups.PARAMS_KEY: 2}) == 2
  # 'auto' that nothing resolved (a plain tf.estimator.Estimator): one step per run.
  assert groups.check_params_steps_per_run('auto') == 1
  assert groups.steps_per_run_of(ModeKeys.TRAIN, {groups.PARAMS_KEY: groups.AUTO}) == 1


def test_probing_is_per_thread_and_nests():
  assert not groups.is_probing()
  with groups.probing():
    assert groups.is_probing()
    with groups.probing():
      assert groups.is_probing()
    assert groups.is_probing()
    seen = []
    thread = threading.Thread(target=lambda: seen.append(groups.is_probing()))
    thread.start()
    thread.join()
    assert seen == [False]
  assert not groups.is_probing()


_BUILDER_FIX = 'Give the number of batches per session.run, e.g. 8'
_PARAMS_FIX = "Give the number of training steps each session.run performs, e.g. 8, or 'auto'"


@pytest.mark.parametrize(
  'call, message',
  [
    *[
      pytest.param(
        lambda v=v: groups.validate_steps_per_run(v),
        'steps_per_run must be a positive int, given: %s. %s' % (given, _BUILDER_FIX),
        id='builder %s' % given,
      )
      for v, given in ((0, '0'), ('2', "'2'"), (True, 'True'))
    ],
    *[
      pytest.param(
        lambda v=v: groups.check_params_steps_per_run(v),
        'params["steps_per_run"] must be a positive int, given: %s. %s' % (given, _PARAMS_FIX),
        id='params %s' % given,
      )
      for v, given in ((0, '0'), (-1, '-1'), (2.0, '2.0'))
    ],
    pytest.param(
      lambda: groups.params_steps_per_run({'steps_per_run': 0}),
      'params["steps_per_run"] must be a positive int, given: 0. ' + _PARAMS_FIX,
      id='params_steps_per_run',
    ),
    pytest.param(
      lambda: groups.steps_per_run_of(ModeKeys.TRAIN, {'steps_per_run': 'x'}),
      'params["steps_per_run"] must be a positive int, given: \'x\'. ' + _PARAMS_FIX,
      id='steps_per_run_of in TRAIN',
    ),
  ],
)
def test_refusals(call, message):
  with pytest.raises(exceptions.ArgumentError, match='^%s$' % re.escape(message)):
    call()
