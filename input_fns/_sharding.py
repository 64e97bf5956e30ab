"""Which part of the data this worker reads when training runs on several workers.

Shard ``i`` of ``n`` holds rows (or files, or records) ``i, i + n, i + 2n, ...``: shards are
disjoint and together complete.
"""

import collections
import json
import os

import tensorflow as tf

Shard = collections.namedtuple('Shard', ['num_shards', 'index'])

NO_SHARDING = Shard(1, 0)

# Task types that run the training input_fn (ps and evaluator do not).
_TRAINING_TASK_TYPES = ('chief', 'master', 'worker')


def _is_train(mode):
  return mode == tf.estimator.ModeKeys.TRAIN


def _config_from_environment():
  """A RunConfig read from TF_CONFIG, or None when TF_CONFIG names no cluster."""
  try:
    tf_config = json.loads(os.environ.get('TF_CONFIG') or '{}')
  except ValueError:
    return None
  if not tf_config.get('cluster'):
    return None
  return tf.estimator.RunConfig()


def resolve(mode=None, config=None, input_context=None):
  """Returns the :class:`Shard` this input_fn call should read, from what the Estimator passed.

  1. An ``input_context`` (from a distribution strategy): shard ``input_pipeline_id`` of
     ``num_input_pipelines``, in every mode.
  2. Else, in TRAIN mode, the ``RunConfig`` (``config``, or one built from ``TF_CONFIG``
     when not given): shard ``i`` of ``num_worker_replicas``, where the chief (or master) is
     0 and worker ``k`` is ``k + 1`` (not ``RunConfig.global_id_in_cluster``, which would
     count an evaluator listed in the cluster).
  3. Else :data:`NO_SHARDING`: evaluation, prediction and a single-process run read
     everything.

  Args:
    mode: a ``tf.estimator.ModeKeys`` value, or None when called outside an Estimator.
    config: the Estimator's ``RunConfig``, or None.
    input_context: a ``tf.distribute.InputContext``, or None.
  """
  if input_context is not None:
    if input_context.num_input_pipelines > 1:
      return Shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    return NO_SHARDING
  if not _is_train(mode):
    return NO_SHARDING
  if config is None:
    config = _config_from_environment()
    if config is None:
      return NO_SHARDING
  num_workers = config.num_worker_replicas or 0
  if num_workers <= 1 or config.task_type not in _TRAINING_TASK_TYPES:
    return NO_SHARDING
  index = _trainer_index(config)
  if not 0 <= index < num_workers:
    return NO_SHARDING
  return Shard(num_workers, index)


def _trainer_index(config):
  """This task's place among the trainers: the chief (or master) first, then the workers."""
  if config.task_type in ('chief', 'master'):
    return config.task_id
  jobs = config.cluster_spec.jobs
  leaders = sum(
    len(config.cluster_spec.job_tasks(job)) for job in ('chief', 'master') if job in jobs
  )
  return leaders + config.task_id
