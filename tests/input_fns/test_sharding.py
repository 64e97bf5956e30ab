"""Which shard a worker reads: input_context, then TF_CONFIG in TRAIN mode, else none."""

import itertools
import json

import numpy as np
import pytest
import tensorflow as tf

from tfest_adapters.input_fns import _sharding
from tfest_adapters.input_fns import tensor_slices_input_fn

ModeKeys = tf.estimator.ModeKeys
CLUSTER = {'chief': ['host:0'], 'worker': ['host:1', 'host:2'], 'ps': ['host:3']}


def tf_config(monkeypatch, task_type, index, cluster=None):
  monkeypatch.setenv(
    'TF_CONFIG',
    json.dumps({'cluster': cluster or CLUSTER, 'task': {'type': task_type, 'index': index}}),
  )


def test_input_context_wins_in_every_mode():
  context = tf.distribute.InputContext(num_input_pipelines=4, input_pipeline_id=2)
  for mode in (None, ModeKeys.TRAIN, ModeKeys.EVAL):
    assert _sharding.resolve(mode, None, context) == (4, 2)
  single = tf.distribute.InputContext(num_input_pipelines=1, input_pipeline_id=0)
  assert _sharding.resolve(ModeKeys.TRAIN, None, single) == _sharding.NO_SHARDING


@pytest.mark.parametrize(
  'task_type,index,expected',
  [
    ('chief', 0, (3, 0)),
    ('worker', 0, (3, 1)),
    ('worker', 1, (3, 2)),
    ('ps', 0, (1, 0)),
    ('evaluator', 0, (1, 0)),
  ],
)
def test_tf_config_in_train_mode(monkeypatch, task_type, index, expected):
  tf_config(monkeypatch, task_type, index)
  config = tf.estimator.RunConfig()
  assert _sharding.resolve(ModeKeys.TRAIN, config) == expected
  assert _sharding.resolve(ModeKeys.TRAIN, None) == expected  # Read from TF_CONFIG.
  assert _sharding.resolve(ModeKeys.EVAL, config) == _sharding.NO_SHARDING


def test_master_cluster(monkeypatch):
  tf_config(monkeypatch, 'worker', 0, {'master': ['host:0'], 'worker': ['host:1']})
  assert _sharding.resolve(ModeKeys.TRAIN, tf.estimator.RunConfig()) == (2, 1)


@pytest.mark.parametrize(
  'task_type,index,expected', [('chief', 0, (3, 0)), ('worker', 0, (3, 1)), ('worker', 1, (3, 2))]
)
def test_evaluator_listed_in_the_cluster_does_not_shift_workers(
  monkeypatch, task_type, index, expected
):
  # Some launchers list the evaluator in the cluster; RunConfig.global_id_in_cluster then
  # numbers it before the workers ('evaluator' < 'worker'), and worker 1 would get id 3 of 3.
  cluster = dict(CLUSTER, evaluator=['host:4'])
  tf_config(monkeypatch, task_type, index, cluster)
  assert _sharding.resolve(ModeKeys.TRAIN, tf.estimator.RunConfig()) == expected


def test_no_tf_config_no_sharding(monkeypatch):
  monkeypatch.delenv('TF_CONFIG', raising=False)
  assert _sharding.resolve(ModeKeys.TRAIN, tf.estimator.RunConfig()) == _sharding.NO_SHARDING
  assert _sharding.resolve(ModeKeys.TRAIN) == _sharding.NO_SHARDING
  assert _sharding.resolve() == _sharding.NO_SHARDING


def test_workers_read_disjoint_complete_shards(monkeypatch):
  features = {'i': np.arange(31)}
  input_fn = tensor_slices_input_fn(features, batch_size=4, num_epochs=1, seed=0)
  shards = []
  for task_type, index in [('chief', 0), ('worker', 0), ('worker', 1)]:
    tf_config(monkeypatch, task_type, index)
    dataset = input_fn(mode=ModeKeys.TRAIN, config=tf.estimator.RunConfig())
    shards.append(np.concatenate([b['i'].numpy() for b in dataset]).tolist())
  assert sorted(sum(shards, [])) == list(range(31))
  assert all(set(a).isdisjoint(b) for a, b in itertools.combinations(shards, 2))
  # Evaluation reads everything on every task.
  evaluation = input_fn(mode=ModeKeys.EVAL, config=tf.estimator.RunConfig())
  assert sum(len(b['i']) for b in evaluation) == 31


def test_too_few_rows_for_the_workers(monkeypatch):
  tf_config(monkeypatch, 'worker', 1)
  input_fn = tensor_slices_input_fn({'i': np.arange(2)}, batch_size=4)
  with pytest.raises(
    ValueError, match='at least one row per input pipeline, given: 2 rows for 3 pipelines'
  ):
    input_fn(mode=ModeKeys.TRAIN, config=tf.estimator.RunConfig())
