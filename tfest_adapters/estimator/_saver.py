"""The checkpoint saver of make_estimator's Estimator and of fit: TF's, without re-saving."""

import os

import tensorflow as tf
from tensorflow.python.framework import meta_graph

from tfest_adapters import exceptions

# model_dir -> (token, structure) of the graph this process last wrote there (see
# SafeCheckpointSaverHook).
_GRAPHS_WRITTEN = {}


def _graph_structure(graph):
  """A cheap fingerprint of a graph: its ops' names and types, in order."""
  return hash(tuple((op.name, op.type) for op in graph.get_operations()))


def saver_hooks(hooks):
  """The checkpoint saver hooks among ``hooks`` (the Estimator adds its own without one)."""
  return [h for h in hooks if isinstance(h, tf.compat.v1.train.CheckpointSaverHook)]


class SafeCheckpointSaverHook(tf.compat.v1.train.CheckpointSaverHook):
  """TF's CheckpointSaverHook without re-saving a restored checkpoint, and flushing events.

  Passed among ``Estimator.train``'s hooks, it replaces the saver hook the Estimator would
  add (the Estimator adds none when one is given) and gets the Estimator's saving listeners.
  It saves with the Estimator's Saver (the graph's SAVERS collection), at the session's start
  on a fresh model_dir (``model.ckpt-0``), every ``save_steps`` or ``save_secs`` and at the
  end, exactly as TF's (docs/fidelity.md); the graph (graph.pbtxt,
  the event file's graph and meta graph) is written with the first checkpoint of the run.

  Every ``train()`` call builds its graph anew, and writing it again (graph.pbtxt is text)
  takes time at every call. With a ``graph_token`` (one per Estimator, or per ``fit``), the
  graph is not written again when this process last wrote, under the same token, a graph
  with the same ops (names and types) to this model_dir, and graph.pbtxt is still there: the
  same Estimator (same model_fn and params) rebuilding the same graph. Each checkpoint's own
  ``.meta`` is written as TF writes it.

  Args:
    model_dir: where checkpoints go.
    save_steps, save_secs: the RunConfig's ``save_checkpoints_steps`` / ``_secs``.
    save_graph_def: the RunConfig's ``checkpoint_save_graph_def``.
    graph_token: any object standing for the Estimator whose graphs this hook saves; None
      writes the graph at every run, as TF does.
  """

  kept_graph_safe = True  # Adds no op to the graph (see tfest_adapters.estimator._kept_session).

  def __init__(
    self, model_dir, save_steps=None, save_secs=None, save_graph_def=True, graph_token=None
  ):
    super().__init__(
      model_dir, save_secs=save_secs, save_steps=save_steps, save_graph_def=save_graph_def
    )
    self._graph_pending = True
    self._graph_token = graph_token

  @classmethod
  def from_config(cls, model_dir, config, graph_token=None):
    """The hook saving as a ``tf.estimator.RunConfig`` says (steps or secs, graph_def)."""
    return cls(
      model_dir,
      save_steps=config.save_checkpoints_steps,
      save_secs=config.save_checkpoints_secs,
      save_graph_def=config.checkpoint_save_graph_def,
      graph_token=graph_token,
    )

  def begin(self):
    savers = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.SAVERS)
    if len(savers) != 1:
      raise exceptions.TrainingError(
        "fit saves checkpoints with the Saver of the graph's SAVERS collection, but it "
        "holds %d: the model_fn's Scaffold probably has a Saver of its own. Add it to the "
        'collection (tf.compat.v1.add_to_collection(tf.compat.v1.GraphKeys.SAVERS, saver))'
        ' or train with estimator.train' % len(savers)
      )
    super().begin()
    self._graph_pending = True

  def after_create_session(self, session, coord):
    del coord  # Unused.
    # TF saves here "the state at the first step". On a fresh model_dir that is the untrained
    # variables (model.ckpt-0), saved as TF saves them. A restored checkpoint is not saved
    # again: nothing has changed, and a run failing at its first step leaves it as it was.
    global_step = session.run(self._global_step_tensor)
    if tf.train.latest_checkpoint(self._checkpoint_dir) is None:
      self._save(session, global_step)
    self._timer.update_last_triggered_step(global_step)

  def _write_graph(self):
    graph = tf.compat.v1.get_default_graph()
    key = os.path.abspath(self._checkpoint_dir)
    # Without a token (a graph of no make_estimator Estimator) the graph is written every time.
    written = None if self._graph_token is None else (self._graph_token, _graph_structure(graph))
    if (
      written is not None
      and _GRAPHS_WRITTEN.get(key) == written
      and (
        not self._save_graph_def
        or os.path.exists(os.path.join(self._checkpoint_dir, 'graph.pbtxt'))
      )
    ):
      return
    graph_def = graph.as_graph_def(add_shapes=True)
    if self._save_graph_def:
      tf.io.write_graph(graph_def, self._checkpoint_dir, 'graph.pbtxt')
    saver = self._get_saver()
    meta_graph_def = meta_graph.create_meta_graph_def(
      graph_def=graph_def, saver_def=saver.saver_def if saver else None
    )
    self._summary_writer.add_graph(graph)  # As TF's hook: a GraphDef logs a deprecation.
    self._summary_writer.add_meta_graph(meta_graph_def)
    if written is not None:
      _GRAPHS_WRITTEN[key] = written

  def _save(self, session, step):
    # Listeners run first and may veto the save (NonFiniteSaveVeto): nothing is written then.
    should_stop = super()._save(session, step)
    if self._graph_pending:
      self._write_graph()
      self._graph_pending = False
    self._summary_writer.flush()
    return should_stop
