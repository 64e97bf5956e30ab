"""SIGINT and SIGTERM during fit: finish the step, save it, then act as the old handler would."""

import logging
import signal
import threading

import tensorflow as tf

from tfest_adapters.training import _checkpoints

_LOGGER = logging.getLogger('tfest_adapters')


class _StopOnSignalHook(tf.compat.v1.train.SessionRunHook):
  """Requests a stop after the step during which a signal arrived (the saver then saves)."""

  kept_graph_safe = True  # Adds no op to the graph (see tfest_adapters.estimator._kept_session).

  def __init__(self, guard):
    self.guard = guard

  def after_run(self, run_context, run_values):
    del run_values  # Unused.
    if self.guard.received is not None:
      run_context.request_stop()


class SaveOnSignal:
  """SIGINT/SIGTERM during training: finish the step, save it, then act as before.

  A context manager. Entered in the main thread, it replaces the SIGINT and SIGTERM
  handlers (not ignored ones) with one that only notes the signal; ``hook`` (a
  SessionRunHook) then stops training after the current step, so that the Estimator's
  saver writes a checkpoint at that step on its way out. The first signal also restores the
  previous handlers, so a second Ctrl-C aborts at once, without saving. On exit the previous
  handlers are back; :meth:`redeliver` then does what they would have done with the signal
  (raise KeyboardInterrupt for SIGINT, terminate for SIGTERM, or call the handler).
  Outside the main thread it does nothing (Python delivers signals to the main thread only).
  """

  SIGNALS = (signal.SIGINT, signal.SIGTERM)

  def __init__(self):
    self.received = None
    self.hook = _StopOnSignalHook(self)
    self._previous = {}
    self._installed = {}

  def __enter__(self):
    self.received = None
    if threading.current_thread() is not threading.main_thread():
      return self
    for signum in self.SIGNALS:
      previous = signal.getsignal(signum)
      if previous is None or previous == signal.SIG_IGN:
        continue  # Installed outside Python, or ignored on purpose: left alone.
      self._previous[signum] = previous
      self._installed[signum] = previous
      signal.signal(signum, self._handle)
    return self

  def _handle(self, signum, frame):
    del frame  # Unused.
    if self.received is None:
      self.received = signum
    self._restore()

  def _restore(self):
    while self._installed:
      signum, previous = self._installed.popitem()
      signal.signal(signum, previous)

  def __exit__(self, *exc_info):
    self._restore()

  def redeliver(self, model_dir):
    """After the save: re-raise the signal as the previous handler would have handled it."""
    signum = self.received
    if signum is None:
      return
    name = signal.Signals(signum).name
    saved = _checkpoints.latest_checkpoint_text(model_dir)
    text = '%s received: training stopped after saving, %s' % (
      name,
      saved.replace('is intact', 'holds every step'),
    )
    previous = self._previous.get(signum, signal.SIG_DFL)
    if previous is signal.default_int_handler:
      raise KeyboardInterrupt(text)
    _LOGGER.warning('%s', text)
    if callable(previous):
      previous(signum, None)
    elif previous == signal.SIG_DFL:
      signal.raise_signal(signum)
