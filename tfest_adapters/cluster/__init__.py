"""Multi-machine training on TensorFlow's own runtime: TF_CONFIG, roles, and a loopback cluster.

The same script runs in every process; ``TF_CONFIG`` gives each its role. This package builds
and checks TF_CONFIG, tells a process its role and data shard, gives the hooks that make short
between-graph jobs use every worker, and runs a real cluster on 127.0.0.1
(:func:`run_local_cluster`). Importing it does not import TensorFlow; the hooks do, when first
used. See docs/distributed.md and examples/cluster_job.py.
"""

import importlib

from tfest_adapters.cluster._launch import LOOPBACK
from tfest_adapters.cluster._launch import free_loopback_ports
from tfest_adapters.cluster._results import ClusterResult
from tfest_adapters.cluster._results import RoleResult
from tfest_adapters.cluster._runner import LocalCluster
from tfest_adapters.cluster._runner import run_local_cluster
from tfest_adapters.cluster._tf_config import CHIEF
from tfest_adapters.cluster._tf_config import EVALUATOR
from tfest_adapters.cluster._tf_config import PS
from tfest_adapters.cluster._tf_config import TF_CONFIG_ENV
from tfest_adapters.cluster._tf_config import WORKER
from tfest_adapters.cluster._tf_config import Role
from tfest_adapters.cluster._tf_config import current_role
from tfest_adapters.cluster._tf_config import make_tf_config
from tfest_adapters.cluster._tf_config import role_from_tf_config
from tfest_adapters.cluster._tf_config import validate_tf_config
from tfest_adapters.exceptions import ClusterError

# Names that need TensorFlow, resolved on first use.
_TF_EXPORTS = {
  'wait_for_chief': 'tfest_adapters.cluster._hooks',
  'WaitForChiefHook': 'tfest_adapters.cluster._hooks',
  'WaitForWorkersHook': 'tfest_adapters.cluster._hooks',
  'TaskStepsHook': 'tfest_adapters.cluster._hooks',
  'read_task_steps': 'tfest_adapters.cluster._hooks',
}

__all__ = [
  'CHIEF',
  'ClusterError',
  'ClusterResult',
  'EVALUATOR',
  'LOOPBACK',
  'LocalCluster',
  'PS',
  'Role',
  'RoleResult',
  'TF_CONFIG_ENV',
  'TaskStepsHook',
  'WORKER',
  'WaitForChiefHook',
  'WaitForWorkersHook',
  'current_role',
  'free_loopback_ports',
  'make_tf_config',
  'read_task_steps',
  'role_from_tf_config',
  'run_local_cluster',
  'validate_tf_config',
  'wait_for_chief',
]


def __getattr__(name):
  if name in _TF_EXPORTS:
    value = getattr(importlib.import_module(_TF_EXPORTS[name]), name)
    globals()[name] = value
    return value
  raise AttributeError('module %r has no attribute %r' % (__name__, name))


def __dir__():
  return sorted(set(globals()) | set(__all__))
