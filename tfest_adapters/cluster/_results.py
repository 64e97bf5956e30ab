"""How the roles of a :class:`~tfest_adapters.cluster.LocalCluster` ended: statuses and results."""

import collections

# Role statuses.
RUNNING = 'running'
EXITED = 'exited'  # Ended by itself with exit code 0.
FAILED = 'failed'  # Ended by itself with a non-zero exit code.
STOPPED = 'stopped'  # A ps ended by the runner once training was over (expected).
KILLED = 'killed'  # Ended through LocalCluster.kill() or restart() (asked for).
TIMED_OUT = 'timed out'  # Ended by the watchdog.
ABORTED = 'aborted'  # Ended by the runner because another role failed or timed out.
OK_STATUSES = (EXITED, STOPPED, KILLED)


class RoleResult(
  collections.namedtuple(
    'RoleResult', ['name', 'status', 'returncode', 'seconds', 'restarts', 'pid', 'log_tail']
  )
):
  """How one role of a :class:`LocalCluster` ended (its last incarnation, after restarts).

  Attributes:
    name: ``'<task_type>:<index>'``, e.g. ``'worker:0'``.
    status: 'exited' (code 0), 'failed' (non-zero code), 'stopped' (a ps ended by the runner
      after training), 'killed' (through ``kill``/``restart``), 'timed out' (ended by the
      watchdog), 'aborted' (ended because another role failed) or 'running'.
    returncode: the process exit code (negative: the signal that ended it), or None.
    seconds: how long the last incarnation ran.
    restarts: how many times the role was restarted.
    pid: the PID of the last incarnation.
    log_tail: tuple of its last log lines.
  """

  __slots__ = ()

  @property
  def ok(self):
    """Whether the role ended the way a successful run ends its roles."""
    return self.status in OK_STATUSES


class ClusterResult:
  """The outcome of a :class:`LocalCluster` run: one :class:`RoleResult` per role.

  Attributes:
    roles: dict of role name -> :class:`RoleResult`, in start order.
    seconds: wall time from the start of the first role to the end of the last one.
    error: the :class:`~tfest_adapters.exceptions.ClusterError` describing the first role
      that failed or hung, or None.
    tf_configs: dict of role name -> the TF_CONFIG dict the role ran with.
  """

  def __init__(self, roles, seconds, error, tf_configs):
    self.roles = roles
    self.seconds = seconds
    self.error = error
    self.tf_configs = tf_configs

  @property
  def ok(self):
    return self.error is None and all(r.ok for r in self.roles.values())

  @property
  def returncodes(self):
    """dict of role name -> exit code (a ps ended by the runner shows -SIGTERM)."""
    return {name: r.returncode for name, r in self.roles.items()}

  def __getitem__(self, name):
    return self.roles[name]

  def __repr__(self):
    return 'ClusterResult(ok=%s, seconds=%.1f, roles={%s})' % (
      self.ok,
      self.seconds,
      ', '.join('%r: %s (%s)' % (n, r.status, r.returncode) for n, r in self.roles.items()),
    )
