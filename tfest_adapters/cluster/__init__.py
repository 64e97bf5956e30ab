"""Multi-machine training on TensorFlow's own runtime: TF_CONFIG, roles, and a loopback cluster.

The same script runs on every machine; ``TF_CONFIG`` tells each process its role (chief,
worker, ps or evaluator) and ``tf.estimator.train_and_evaluate`` does what the role needs
(the chief trains and writes checkpoints, workers train on their own shard, the ps serve the
variables, the evaluator evaluates each new checkpoint). This module:

* builds and checks TF_CONFIG: :func:`make_tf_config`, :func:`validate_tf_config`;
* says which role this process plays and which data shard is its own: :func:`current_role`,
  :class:`Role`;
* handles the traps of between-graph training: :class:`WaitForChiefHook` /
  :func:`wait_for_chief` (a worker that starts before the chief initialized the model
  otherwise sleeps 30 s), :class:`WaitForWorkersHook` (a short job can end before a late
  worker joins), :class:`TaskStepsHook` and
  :func:`read_task_steps` (how many steps each task ran);
* runs a real cluster of processes on 127.0.0.1 and ends it, bounded:
  :func:`run_local_cluster`, :class:`LocalCluster`, :class:`ClusterResult`.

Example (the same file started once per role; see examples/cluster_job.py and
docs/distributed.md):

  from tfest_adapters import cluster

  result = cluster.run_local_cluster('examples/cluster_job.py', workers=1, ps=1,
                                     evaluator=True, args=['--model-dir', '/tmp/run'],
                                     timeout=120)
  print(result.returncodes)

Importing this module does not import TensorFlow; :func:`wait_for_chief`,
:class:`WaitForChiefHook`, :class:`WaitForWorkersHook`, :class:`TaskStepsHook` and
:func:`read_task_steps` do, when first used.
"""

import importlib

from tfest_adapters.cluster._tf_config import CHIEF
from tfest_adapters.cluster._tf_config import current_role
from tfest_adapters.cluster._tf_config import EVALUATOR
from tfest_adapters.cluster._tf_config import make_tf_config
from tfest_adapters.cluster._tf_config import PS
from tfest_adapters.cluster._tf_config import Role
from tfest_adapters.cluster._tf_config import role_from_tf_config
from tfest_adapters.cluster._tf_config import TF_CONFIG_ENV
from tfest_adapters.cluster._tf_config import validate_tf_config
from tfest_adapters.cluster._tf_config import WORKER
from tfest_adapters.cluster._runner import ClusterResult
from tfest_adapters.cluster._runner import free_loopback_ports
from tfest_adapters.cluster._runner import LocalCluster
from tfest_adapters.cluster._runner import LOOPBACK
from tfest_adapters.cluster._runner import RoleResult
from tfest_adapters.cluster._runner import run_local_cluster
from tfest_adapters.exceptions import ClusterError

# Names that need TensorFlow, resolved on first use.
_TF_EXPORTS = {
    'wait_for_chief': 'tfest_adapters.cluster._hooks',
    'WaitForChiefHook': 'tfest_adapters.cluster._hooks',
    'WaitForWorkersHook': 'tfest_adapters.cluster._hooks',
    'TaskStepsHook': 'tfest_adapters.cluster._hooks',
    'read_task_steps': 'tfest_adapters.cluster._hooks',
}

__all__ = sorted([
    'CHIEF', 'WORKER', 'PS', 'EVALUATOR', 'TF_CONFIG_ENV', 'LOOPBACK',
    'make_tf_config', 'validate_tf_config', 'current_role', 'role_from_tf_config', 'Role',
    'run_local_cluster', 'LocalCluster', 'ClusterResult', 'RoleResult', 'free_loopback_ports',
    'ClusterError',
] + list(_TF_EXPORTS))


def __getattr__(name):
  if name in _TF_EXPORTS:
    value = getattr(importlib.import_module(_TF_EXPORTS[name]), name)
    globals()[name] = value
    return value
  raise AttributeError('module %r has no attribute %r' % (__name__, name))


def __dir__():
  return sorted(set(globals()) | set(__all__))
