"""TF_CONFIG: building it, checking it, and telling which role this process plays.

``TF_CONFIG`` is the JSON object (``{"cluster": {...}, "task": {"type": ..., "index": ...}}``)
that configures each process of a cluster. The checks here refuse what ``RunConfig`` would
accept and then fail on or hang, naming the field. Nothing here imports TensorFlow.
"""

import collections
import collections.abc
import json
import os
import re

from tfest_adapters import exceptions
from tfest_adapters._core import validation

TF_CONFIG_ENV = 'TF_CONFIG'

CHIEF = 'chief'
WORKER = 'worker'
PS = 'ps'
EVALUATOR = 'evaluator'
MASTER = 'master'  # The legacy name of the chief (TF 1.x).

# The jobs of a training cluster, in the order RunConfig numbers trainers.
CLUSTER_JOBS = (CHIEF, WORKER, PS)
TASK_TYPES = (CHIEF, WORKER, PS, EVALUATOR)
TRAINER_TYPES = (CHIEF, WORKER)

_ADDRESS = re.compile(r'^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.\-]+):(?P<port>[0-9]+)$')


class Role(
  collections.namedtuple(
    'Role', ['task_type', 'task_index', 'num_worker_replicas', 'num_ps_replicas', 'distributed']
  )
):
  """The role of one process in a TF_CONFIG cluster (or of a local, non-distributed run).

  Attributes:
    task_type: 'chief', 'worker', 'ps' or 'evaluator'. A process without a cluster in
      TF_CONFIG is 'worker' 0 (as ``RunConfig.task_type`` says), and is its own chief.
    task_index: int, the index of the task within its type.
    num_worker_replicas: int, how many processes train: the chief plus the workers (1 for a
      local run). Counted from the cluster for every role, the evaluator's included.
    num_ps_replicas: int, how many parameter servers the cluster has.
    distributed: bool, whether TF_CONFIG (or the RunConfig) describes a cluster.
  """

  __slots__ = ()

  @property
  def name(self):
    """``'<task_type>:<task_index>'``, as the logs of :func:`run_local_cluster` prefix it."""
    return '%s:%d' % (self.task_type, self.task_index)

  @property
  def is_chief(self):
    """Whether this process writes checkpoints and summaries (the chief, or a local run)."""
    return self.task_type == CHIEF or not self.distributed

  @property
  def is_trainer(self):
    """Whether this process runs training steps (chief and workers, or a local run)."""
    return self.task_type in TRAINER_TYPES or not self.distributed

  @property
  def is_ps(self):
    return self.task_type == PS

  @property
  def is_evaluator(self):
    return self.task_type == EVALUATOR

  @property
  def num_shards(self):
    """How many shards the training data is cut into: one per trainer; None if not a trainer."""
    return self.num_worker_replicas if self.is_trainer else None

  @property
  def shard_index(self):
    """This trainer's shard: 0 for the chief (or a local run), 1 + i for worker i; else None.

    Equal to ``RunConfig.global_id_in_cluster`` when the evaluator is not listed in the
    cluster (RunConfig counts a listed evaluator before the workers).
    """
    if not self.is_trainer:
      return None
    if not self.distributed:
      return 0
    return 0 if self.task_type == CHIEF else 1 + self.task_index


def _fail(error, name, expected, value, fix=None):
  raise error(validation.message(name, expected, value, fix))


def _validate_address(name, address, error):
  """Checks one 'host:port' string."""
  if not isinstance(address, str):
    _fail(error, name, "a 'host:port' string", address)
  if '://' in address:
    _fail(
      error,
      name,
      "a 'host:port' string without a scheme",
      address,
      "Drop the scheme: '%s'" % address.split('://', 1)[1],
    )
  match = _ADDRESS.match(address)
  if not match:
    _fail(
      error,
      name,
      "a 'host:port' string",
      address,
      "For example 'localhost:2222' or '10.0.0.2:2222'",
    )
  port = int(match.group('port'))
  if not 1 <= port <= 65535:
    _fail(error, name, "a 'host:port' string with a port in 1..65535", address)
  return address


def _validate_cluster(cluster, name, error, strict):
  """Checks the ``cluster`` part: job -> list of distinct 'host:port' addresses.

  Args:
    cluster: the value to check.
    name: how the value is called in messages (``'cluster'`` or ``"TF_CONFIG['cluster']"``).
    error: the exception class to raise for a bad value.
    strict: True when building a TF_CONFIG (the evaluator must stay out of ``cluster``);
      False when reading one written by a launcher (which may list it).

  Returns:
    A new dict with list values.
  """
  type_error = exceptions.ArgumentTypeError if error is exceptions.ArgumentError else error
  if not isinstance(cluster, collections.abc.Mapping):
    _fail(
      type_error,
      name,
      "a dict of job name -> list of 'host:port' addresses",
      cluster,
      "For example {'chief': ['host0:2222'], 'worker': ['host1:2222'], 'ps': ['host2:2222']}",
    )
  allowed = CLUSTER_JOBS if strict else TASK_TYPES
  checked = {}
  for job, addresses in cluster.items():
    if job == MASTER:
      _fail(
        error,
        'the jobs of %s' % name,
        'among %s' % ', '.join(map(repr, allowed)),
        job,
        "'master' is TF 1.x's name for the chief: call it 'chief'",
      )
    if job == EVALUATOR and strict:
      _fail(
        error,
        'the jobs of %s' % name,
        'among %s' % ', '.join(map(repr, allowed)),
        job,
        'The evaluator is not part of the training cluster: leave it out of the cluster '
        "and give task_type='evaluator' to the evaluator's process",
      )
    if job not in allowed:
      _fail(error, 'the jobs of %s' % name, 'among %s' % ', '.join(map(repr, allowed)), job)
    field = '%s[%r]' % (name, job)
    if isinstance(addresses, str):
      _fail(
        type_error,
        field,
        "a list of 'host:port' strings",
        addresses,
        'Wrap it in a list: [%r]' % addresses,
      )
    if not isinstance(addresses, (list, tuple)) or not addresses:
      _fail(
        type_error if not isinstance(addresses, (list, tuple)) else error,
        field,
        "a non-empty list of 'host:port' strings",
        addresses,
      )
    checked[job] = [
      _validate_address('%s[%d]' % (field, i), a, error) for i, a in enumerate(addresses)
    ]
  if CHIEF not in checked:
    _fail(
      error,
      name,
      "a dict with a 'chief' job (the task that writes checkpoints)",
      dict(cluster),
      "Add 'chief': ['host:port']; a single machine needs no TF_CONFIG",
    )
  if len(checked[CHIEF]) != 1:
    _fail(
      error,
      '%s[%r]' % (name, CHIEF),
      "a list of exactly one 'host:port' address",
      checked[CHIEF],
      'A cluster has one chief; the other trainers are workers',
    )
  seen = {}
  for job, addresses in checked.items():
    for i, address in enumerate(addresses):
      here = '%s[%r][%d]' % (name, job, i)
      if address in seen:
        _fail(
          error,
          here,
          'an address no other task uses',
          address,
          'It is also %s; each task needs its own port' % seen[address],
        )
      seen[address] = here
  return checked


def _validate_task(cluster, task_type, task_index, names, error):
  """Checks the task against the (already checked) cluster; returns (type, index)."""
  type_name, index_name = names
  type_error = exceptions.ArgumentTypeError if error is exceptions.ArgumentError else error
  if task_type == MASTER:
    _fail(
      error,
      type_name,
      'one of %s' % ', '.join(map(repr, TASK_TYPES)),
      task_type,
      "'master' is TF 1.x's name for the chief: call it 'chief'",
    )
  if task_type not in TASK_TYPES:
    _fail(error, type_name, 'one of %s' % ', '.join(map(repr, TASK_TYPES)), task_type)
  if isinstance(task_index, str) and task_index.isdigit():
    task_index = int(task_index)  # RunConfig accepts '1' as well.
  if not isinstance(task_index, int) or isinstance(task_index, bool):
    _fail(type_error, index_name, 'a non-negative int', task_index)
  if task_index < 0:
    _fail(error, index_name, 'a non-negative int', task_index)
  if task_type == EVALUATOR:
    return task_type, task_index
  if task_type not in cluster:
    _fail(
      error,
      type_name,
      'a job of the cluster (%s) or %r' % (', '.join(map(repr, cluster)), EVALUATOR),
      task_type,
    )
  size = len(cluster[task_type])
  if task_index >= size:
    _fail(
      error,
      index_name,
      'an index below %d, the number of %r tasks in the cluster' % (size, task_type),
      task_index,
    )
  return task_type, task_index


def make_tf_config(cluster, task_type, task_index=0):
  """Builds the TF_CONFIG of one process of a cluster, checked.

  Example:

    cluster = {'chief': ['host0:2222'], 'worker': ['host1:2222', 'host2:2222'],
               'ps': ['host3:2222']}
    os.environ['TF_CONFIG'] = json.dumps(make_tf_config(cluster, 'worker', 1))

  Args:
    cluster: dict of job -> list of 'host:port' addresses, with jobs among 'chief' (exactly
      one address), 'worker' and 'ps'. The evaluator is not part of it.
    task_type: 'chief', 'worker', 'ps' or 'evaluator'.
    task_index: int >= 0, below the number of tasks of ``task_type`` (any index for the
      evaluator).

  Returns:
    ``{'cluster': {...}, 'task': {'type': task_type, 'index': task_index}}``, a new dict
    (``json.dumps`` it into the ``TF_CONFIG`` environment variable).

  Raises:
    ArgumentError, ArgumentTypeError: a field that RunConfig would refuse or that cannot
      make a working cluster (duplicate addresses, no chief, bad 'host:port', index out of
      range), named in the message.
  """
  checked = _validate_cluster(cluster, 'cluster', exceptions.ArgumentError, strict=True)
  task_type, task_index = _validate_task(
    checked, task_type, task_index, ('task_type', 'task_index'), exceptions.ArgumentError
  )
  return {'cluster': checked, 'task': {'type': task_type, 'index': task_index}}


def validate_tf_config(tf_config=None):
  """Parses and checks a TF_CONFIG as written by a launcher (or by :func:`make_tf_config`).

  Args:
    tf_config: a dict, a JSON string, or None to read the ``TF_CONFIG`` environment
      variable.

  Returns:
    A new dict ``{'cluster': {...}, 'task': {'type': ..., 'index': int}}`` plus any other
    keys TF_CONFIG had (``environment``, ``rpc_layer``, ...); ``{}`` when there is no
    TF_CONFIG (or it has no cluster and no task), which means a local run. A launcher's
    evaluator entry in ``cluster`` is kept.

  Raises:
    ClusterError: the TF_CONFIG environment variable is not valid.
    ArgumentError, ArgumentTypeError: the ``tf_config`` argument is not valid.
  """
  if tf_config is None:
    text = os.environ.get(TF_CONFIG_ENV, '')
    where, error = TF_CONFIG_ENV, exceptions.ClusterError
    tf_config = _parse_json(text, where, error) if text.strip() else {}
  else:
    where, error = 'tf_config', exceptions.ArgumentError
    if isinstance(tf_config, (str, bytes)):
      tf_config = _parse_json(tf_config, where, error) if tf_config.strip() else {}
  type_error = exceptions.ArgumentTypeError if error is exceptions.ArgumentError else error
  if not isinstance(tf_config, collections.abc.Mapping):
    _fail(type_error, where, "a JSON object with 'cluster' and 'task'", tf_config)
  result = dict(tf_config)
  cluster = tf_config.get('cluster') or {}
  task = tf_config.get('task') or {}
  if not cluster and not task:
    return result
  if not isinstance(task, collections.abc.Mapping):
    _fail(type_error, '%s[%r]' % (where, 'task'), "a dict {'type': ..., 'index': ...}", task)
  if not cluster:
    _fail(
      error,
      '%s[%r]' % (where, 'cluster'),
      "a non-empty dict of job -> addresses when 'task' is set",
      cluster,
      'Give both, or neither for a local run',
    )
  checked = _validate_cluster(cluster, '%s[%r]' % (where, 'cluster'), error, strict=False)
  if 'type' not in task:
    _fail(error, '%s[%r]' % (where, 'task'), "a dict with a 'type'", dict(task))
  task_type, task_index = _validate_task(
    checked,
    task.get('type'),
    task.get('index', 0),
    ("%s['task']['type']" % where, "%s['task']['index']" % where),
    error,
  )
  result['cluster'] = checked
  result['task'] = dict(task, type=task_type, index=task_index)
  return result


def _parse_json(text, where, error):
  try:
    return json.loads(text)
  except ValueError as e:
    raise error(
      '%s must be a JSON object, given: %s. The JSON parser says: %s'
      % (where, validation.describe(text), e)
    ) from None


def role_from_tf_config(tf_config):
  """Returns the :class:`Role` of a TF_CONFIG (dict, JSON string, or None for the environment)."""
  return _role_of(validate_tf_config(tf_config))


def _role_of(tf_config):
  cluster = tf_config.get('cluster')
  if not cluster:
    return Role(WORKER, 0, 1, 0, False)
  task = tf_config['task']
  return Role(
    task['type'],
    task['index'],
    len(cluster.get(CHIEF, ())) + len(cluster.get(WORKER, ())),
    len(cluster.get(PS, ())),
    True,
  )


def current_role(config=None):
  """Says which role this process plays, from a RunConfig or from TF_CONFIG.

  Example:

    role = current_role()
    if role.is_trainer:
      dataset = dataset.shard(role.num_shards, role.shard_index)

  Args:
    config: a ``tf.estimator.RunConfig`` (its ``task_type``, ``task_id`` and cluster), or None
      to read the ``TF_CONFIG`` environment variable (without importing TensorFlow).

  Returns:
    A :class:`Role`. Without a cluster: ``Role('worker', 0, 1, 0, distributed=False)``, a
    local run that is its own chief.

  Raises:
    ClusterError: TF_CONFIG is set but not valid (the message names the field).
  """
  if config is None:
    return _role_of(validate_tf_config())
  task_type = getattr(config, 'task_type', None)
  if task_type is None or not hasattr(config, 'cluster_spec'):
    raise exceptions.ArgumentTypeError(
      validation.message('config', 'a tf.estimator.RunConfig or None', config)
    )
  jobs = config.cluster_spec.as_dict() if config.cluster_spec else {}
  if task_type == EVALUATOR:
    # RunConfig empties the evaluator's cluster; TF_CONFIG still has it.
    try:
      jobs = validate_tf_config().get('cluster') or {}
    except exceptions.ClusterError:
      jobs = {}
    return Role(
      EVALUATOR,
      int(config.task_id or 0),
      len(jobs.get(CHIEF, ())) + len(jobs.get(WORKER, ())),
      len(jobs.get(PS, ())),
      True,
    )
  if not jobs:
    return Role(task_type, int(config.task_id or 0), 1, 0, False)
  return Role(
    task_type,
    int(config.task_id),
    int(config.num_worker_replicas),
    int(config.num_ps_replicas),
    True,
  )
