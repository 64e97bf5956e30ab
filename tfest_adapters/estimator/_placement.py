"""Device placement for an Estimator: a session config and, where it pays, a MirroredStrategy.

Placement stays TensorFlow's, with soft placement and GPU memory growth on. ``devices`` is
``'auto'`` (a MirroredStrategy over all GPUs when there are two or more; nothing in a
TF_CONFIG cluster), ``'cpu'`` (GPUs hidden) or a list of device names to mirror over.
"""

import json
import os

from tfest_adapters import exceptions
from tfest_adapters._core import validation

AUTO = 'auto'
CPU = 'cpu'


def validate_devices(devices):
  """Checks the form of ``devices`` (no TensorFlow runtime needed).

  Args:
    devices: ``'auto'``, ``'cpu'`` or a non-empty list/tuple of distinct device names.

  Returns:
    ``'auto'``, ``'cpu'`` or a tuple of canonical device names (``'/device:GPU:0'``).

  Raises:
    ArgumentError, ArgumentTypeError: with the argument, what was expected and what was given.
  """
  if isinstance(devices, str):
    if devices.lower() in (AUTO, CPU):
      return devices.lower()
    validation.fail(
      'devices', "'auto', 'cpu' or a list of device names such as ['/gpu:0', '/gpu:1']", devices
    )
  if not isinstance(devices, (list, tuple)):
    validation.fail(
      'devices',
      "'auto', 'cpu' or a list of device names such as ['/gpu:0', '/gpu:1']",
      devices,
      error=exceptions.ArgumentTypeError,
    )
  if not devices:
    validation.fail(
      'devices',
      'a non-empty list of device names',
      devices,
      "Use devices='cpu' or 'auto' for one device",
    )
  import tensorflow as tf

  names = []
  for name in devices:
    if not isinstance(name, str):
      validation.fail(
        'devices', 'a list of device name strings', devices, error=exceptions.ArgumentTypeError
      )
    try:
      spec = tf.DeviceSpec.from_string(name)
    except ValueError:
      spec = None
    if spec is None or not spec.device_type:
      validation.fail(
        'each device in devices', "a device name with a type, such as '/gpu:0' or '/cpu:1'", name
      )
    names.append(spec.replace(device_index=spec.device_index or 0).to_string())
  if len(set(names)) != len(names):
    validation.fail('devices', 'distinct device names', devices)
  return tuple(names)


def in_cluster(config=None):
  """Whether this process is one role of a TF_CONFIG (or RunConfig) cluster."""
  if config is not None and config.cluster_spec and config.cluster_spec.jobs:
    return True
  try:
    tf_config = json.loads(os.environ.get('TF_CONFIG') or '{}')
  except ValueError:
    return False
  return bool(tf_config.get('cluster'))


def enable_memory_growth():
  """Turns GPU memory growth on for the eager runtime, where it can still be changed.

  The Estimator's sessions get ``gpu_options.allow_growth`` from :func:`session_config`; the
  eager runtime (initialized by building a strategy or listing logical devices) needs it too,
  or it takes all GPU memory first. It can only be set before the runtime starts.
  """
  import tensorflow as tf

  for gpu in tf.config.list_physical_devices('GPU'):
    try:
      tf.config.experimental.set_memory_growth(gpu, True)
    except (RuntimeError, ValueError):
      pass  # The runtime is already initialized: whatever was set then stays.


def session_config(devices=AUTO, base=None):
  """Returns the ConfigProto the Estimator's sessions use.

  Args:
    devices: a value accepted by :func:`validate_devices`.
    base: a ``tf.compat.v1.ConfigProto`` to start from (the RunConfig's, which holds the
      device filters of a cluster role), or None for the Estimator's default.

  Returns:
    A new ``tf.compat.v1.ConfigProto`` with soft placement and GPU memory growth on, and GPUs
    hidden when ``devices == 'cpu'``.
  """
  import tensorflow as tf
  from tensorflow_estimator.python.estimator import run_config

  devices = validate_devices(devices)
  proto = tf.compat.v1.ConfigProto()
  proto.CopyFrom(base if base is not None else run_config.get_default_session_config())
  proto.allow_soft_placement = True
  proto.gpu_options.allow_growth = True
  if devices == CPU:
    proto.device_count['GPU'] = 0
  return proto


def cross_device_ops(devices):
  """Graph-mode cross-device ops for a MirroredStrategy over ``devices``.

  ``ReductionToOneDevice`` when any device is a CPU, ``NcclAllReduce`` (TensorFlow's choice
  for GPUs in graph mode) when all are GPUs and NCCL kernels are registered. The default,
  collective all-reduce chosen when the strategy is built eagerly, hangs the Estimator's
  first ``session.run`` on logical CPU devices.
  """
  import tensorflow as tf

  if all('GPU' in d.upper() for d in devices):
    from tensorflow.python.framework import kernels

    if kernels.get_registered_kernels_for_op('NcclAllReduce').kernel:
      return tf.distribute.NcclAllReduce(num_packs=1)
  return tf.distribute.ReductionToOneDevice()


def _check_devices_exist(devices):
  import tensorflow as tf

  available = [d.name for d in tf.config.list_logical_devices()]
  known = set()
  for name in available:
    spec = tf.DeviceSpec.from_string(name)
    known.add(
      tf.DeviceSpec(device_type=spec.device_type, device_index=spec.device_index).to_string()
    )
  for name in devices:
    spec = tf.DeviceSpec.from_string(name)
    local = tf.DeviceSpec(device_type=spec.device_type, device_index=spec.device_index).to_string()
    if spec.job is None and local not in known:
      validation.fail(
        'each device in devices',
        'one of the visible devices (%s)' % ', '.join(available),
        name,
        'Logical CPU devices must be created with '
        'tf.config.set_logical_device_configuration before TensorFlow starts',
      )


def distribution(devices=AUTO, config=None):
  """Returns the MirroredStrategy for ``devices``, or None for no strategy.

  With a strategy, the input_fn must return a ``tf.data.Dataset`` whose batch size is per
  replica: a step trains on ``batch_size * num_replicas`` rows, with gradients averaged over
  replicas (so ``batch_size=16`` on 2 replicas trains like ``batch_size=32`` on one device).

  Args:
    devices: a value accepted by :func:`validate_devices`.
    config: the RunConfig, to tell a TF_CONFIG cluster role apart (no strategy there).

  Returns:
    ``tf.distribute.MirroredStrategy`` or None.

  Raises:
    ArgumentError: a device list inside a cluster, or a device that does not exist.
  """
  import tensorflow as tf

  devices = validate_devices(devices)
  if devices == CPU:
    return None
  if in_cluster(config):
    if devices == AUTO:
      return None
    validation.fail(
      'devices',
      "'auto' or 'cpu' in a TF_CONFIG cluster",
      list(devices),
      'A cluster places variables on its ps tasks; to mirror within each worker pass '
      'config=RunConfig(train_distribute=...) with a strategy made for clusters',
    )
  enable_memory_growth()
  if devices == AUTO:
    gpus = [d.name for d in tf.config.list_logical_devices('GPU')]
    if len(gpus) < 2:
      return None
    devices = tuple(gpus)
  else:
    _check_devices_exist(devices)
  return tf.distribute.MirroredStrategy(
    devices=list(devices), cross_device_ops=cross_device_ops(devices)
  )


def num_replicas(estimator_or_config):
  """Replicas a step runs on: the global batch is the input_fn's batch times this."""
  config = getattr(estimator_or_config, 'config', estimator_or_config)
  strategy = config.train_distribute
  return strategy.num_replicas_in_sync if strategy is not None else 1
