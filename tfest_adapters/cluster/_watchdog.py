"""When a local cluster's runner ends roles by itself: failures, deadlines, and the ps at the end.

:class:`Watchdog` is ticked by the runner's monitor thread, under the cluster's lock.
"""

from tfest_adapters import exceptions
from tfest_adapters.cluster import _process as process
from tfest_adapters.cluster import _results as results
from tfest_adapters.cluster import _tf_config

_PORT_HINTS = ('Address already in use', 'Could not start gRPC server', 'Failed to add port')


class Watchdog:
  """Reaps the roles of a cluster and ends the ones that must end; keeps the first error.

  * A role that fails (non-zero exit code) ends the run: the others are ended (aborted) and
    ``error`` names the role, its exit code and its last lines.
  * A role past its deadline, or a worker still running ``shutdown_timeout`` seconds after the
    chief finished, is ended and named in ``error``.
  * A ps (it never ends by itself) is stopped once the chief finished with exit code 0 and no
    worker is still training, or once no other role is left.
  * A role sent SIGTERM gets SIGKILL ``kill_grace`` seconds later.

  Args:
    roles: dict of role name -> :class:`~tfest_adapters.cluster._process.RoleProcess`.
    kill_grace: seconds between SIGTERM and SIGKILL.
    shutdown_timeout: seconds the workers may go on after the chief finished.
  """

  def __init__(self, roles, kill_grace, shutdown_timeout):
    self._roles = roles
    self._kill_grace = kill_grace
    self._shutdown_timeout = shutdown_timeout
    self._chief_done_at = None
    self.error = None  # The ClusterError of the first role that failed or hung.

  def tick(self, now):
    """Reaps the roles that ended, then ends those that must end."""
    roles = list(self._roles.values())
    for role in roles:
      if role.running:
        returncode = role.popen.poll()
        if returncode is not None:
          role.reap(returncode, now)
          self._on_exit(role, now)
    # A ps blocks by design: when deadlines pass together, name the other roles first.
    for role in sorted(roles, key=lambda r: r.task_type == _tf_config.PS):
      if not role.running:
        continue
      if role.term_sent is not None:
        if now - role.term_sent > self._kill_grace:
          role.popen.kill()
        continue
      if now > role.deadline:
        role.planned = results.TIMED_OUT
        role.terminate()
        self._fail(
          role,
          'did not end within %s and was ended by the watchdog%s'
          % (role.deadline_reason, self._missing_ps_hint(role)),
        )
      elif (
        role.task_type == _tf_config.WORKER
        and self._chief_done_at is not None
        and now > self._chief_done_at + self._shutdown_timeout
      ):
        role.planned = results.TIMED_OUT
        role.terminate()
        self._fail(
          role,
          'was still running %s s after the chief finished '
          '(shutdown_timeout) and was ended by the watchdog' % self._shutdown_timeout,
        )
    if self.error is None:
      self._maybe_stop_ps(roles)

  def _fail(self, role, what):
    if self.error is not None:
      return
    others = [
      '%s (%s)' % (r.name, r.status or results.RUNNING)
      for r in self._roles.values()
      if r is not role
    ]
    with role.logs.lock:
      lines = role.current_lines()
    text = '%s %s. Other roles: %s. %s' % (
      role.name,
      what,
      ', '.join(others) or 'none',
      role.tail_text(lines),
    )
    if any(h in line for line in lines[-process.TAIL_LINES :] for h in _PORT_HINTS):
      text += (
        '\nIts port was probably taken by another program between choosing it and '
        'starting the server; run again.'
      )
    self.error = exceptions.ClusterError(text)
    self._abort_all()

  def _abort_all(self):
    for role in self._roles.values():
      if role.running and role.planned is None:
        role.planned = results.ABORTED
      role.terminate()

  def _missing_ps_hint(self, role):
    if role.task_type not in _tf_config.TRAINER_TYPES:
      return ''
    gone = [r.name for r in self._roles.values() if r.task_type == _tf_config.PS and not r.running]
    if not gone:
      return ''
    return (
      ' (%s not running: a trainer waits forever for a ps that is gone, retrying its '
      'session; restart the ps on the same port to let it go on)' % ', '.join(gone)
    )

  def _on_exit(self, role, now):
    if role.status == results.FAILED:
      self._fail(
        role, 'failed with exit code %d after %.1f s' % (role.returncode, role.ended - role.started)
      )
    elif role.task_type == _tf_config.CHIEF and role.status == results.EXITED:
      self._chief_done_at = now
    elif role.task_type == _tf_config.PS and role.status == results.EXITED:
      if any(r.running for r in self._roles.values() if r.task_type in _tf_config.TRAINER_TYPES):
        self._fail(
          role,
          'exited by itself while the cluster was training; a ps serves '
          'until the runner ends it (it blocks in server.join())',
        )

  def _maybe_stop_ps(self, roles):
    ps_roles = [r for r in roles if r.task_type == _tf_config.PS and r.running]
    if not ps_roles:
      return
    chief = self._roles.get('%s:0' % _tf_config.CHIEF)
    workers_running = any(r.running for r in roles if r.task_type == _tf_config.WORKER)
    others_running = any(r.running for r in roles if r.task_type != _tf_config.PS)
    if (chief.status == results.EXITED and not workers_running) or not others_running:
      for role in ps_roles:
        if role.planned is None:
          role.planned = results.STOPPED
          role.terminate()
