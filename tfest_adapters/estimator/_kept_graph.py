"""The kept training graph: built as the Estimator builds it, its input a fed Dataset.

The input_fn's Dataset is serialized (``DatasetToGraphV2``) in the graph the input_fn built;
the kept graph reads it back with ``DatasetFromGraph`` from a string placeholder.
"""

import contextlib

import tensorflow as tf
from tensorflow.python.data.ops import dataset_ops
from tensorflow.python.data.ops import options as options_lib
from tensorflow.python.ops import gen_experimental_dataset_ops
from tensorflow.python.training import training_util
from tensorflow_estimator.python.estimator import util as estimator_util

_GraphKeys = tf.compat.v1.GraphKeys

# Collections an input_fn's graph may not add to: what they hold would be initialized,
# started or saved by the training graph, not by the Dataset.
_STATEFUL_COLLECTIONS = (
  _GraphKeys.GLOBAL_VARIABLES,
  _GraphKeys.LOCAL_VARIABLES,
  _GraphKeys.TABLE_INITIALIZERS,
  _GraphKeys.QUEUE_RUNNERS,
  _GraphKeys.SAVEABLE_OBJECTS,
  _GraphKeys.RESOURCES,
  _GraphKeys.LOCAL_RESOURCES,
  _GraphKeys.INIT_OP,
  _GraphKeys.LOCAL_INIT_OP,
  _GraphKeys.SAVERS,
)


class KeptGraph:
  """A training graph, its spec and session, and what it was built from."""

  def __init__(self, graph, element_spec, input_graph, initializer, spec, global_step):
    self.graph = graph
    self.element_spec = element_spec
    self.input_graph = input_graph  # The string placeholder fed with a Dataset's GraphDef.
    self.initializer = initializer
    self.spec = spec
    self.global_step = global_step
    self.session = None
    self.checkpoint = None  # model_dir's latest checkpoint (path, size, mtime) after a call.
    self.prepared = False  # What Estimator._train_with_estimator_spec adds: added.
    # The graph of the Dataset the iterator reads: kept alive for the Python functions its
    # Dataset calls (tf.numpy_function, Dataset.from_generator).
    self.dataset_graph = None


@contextlib.contextmanager
def training_graph(estimator):
  """A new graph begun as ``Estimator._train_model_default`` begins it, as the default.

  Seeded with the RunConfig's ``tf_random_seed``, under the Estimator's device function,
  holding the global step and its read op.
  """
  graph = tf.Graph()
  with graph.as_default(), graph.device(estimator._device_fn):
    tf.compat.v1.random.set_random_seed(estimator.config.tf_random_seed)
    if estimator._create_and_assert_global_step(graph) is not None:
      training_util._get_or_create_global_step_read(graph)
    yield graph


def collection_sizes(graph):
  """The sizes of the collections an input_fn may not add to (compare before and after)."""
  return [len(graph.get_collection(key)) for key in _STATEFUL_COLLECTIONS]


def serialize_dataset(graph, result, sizes_before):
  """(GraphDef bytes, None) of an input_fn's Dataset, or (None, why it cannot be fed).

  Args:
    graph: the graph the input_fn was called in.
    result: what the input_fn returned.
    sizes_before: :func:`collection_sizes` of ``graph`` before the input_fn was called.
  """
  if not isinstance(result, tf.data.Dataset):
    return None, 'the input_fn returns %s, not a tf.data.Dataset' % type(result).__name__
  if collection_sizes(graph) != sizes_before:
    return None, (
      'the input_fn adds variables, tables or queue runners to the graph, which '
      'the training graph initializes'
    )
  # Ignoring "external state" (stateful ops, Python functions) is right here: the GraphDef
  # is read back in this process, while the graph that registered those functions lives.
  serialized = result._as_serialized_graph(
    external_state_policy=options_lib.ExternalStatePolicy.IGNORE
  )
  try:
    with tf.compat.v1.Session(graph=graph) as session:
      return session.run(serialized), None
  except tf.errors.OpError as error:
    return None, 'its Dataset cannot be serialized (%s)' % error.message.split('\n')[0]


def build(estimator, element_spec):
  """The training graph, as ``Estimator._train_model_default`` builds it, fed a Dataset.

  Args:
    estimator: the Estimator whose model_fn builds the graph.
    element_spec: the ``element_spec`` of the Datasets the graph will be fed.

  Returns:
    A :class:`KeptGraph` without a session.
  """
  with training_graph(estimator) as graph:
    with tf.compat.v1.device('/cpu:0'):  # Where the Estimator calls the input_fn.
      input_graph = tf.compat.v1.placeholder(tf.string, [], name='input_dataset_graph')
      dataset = dataset_ops._VariantDataset(
        gen_experimental_dataset_ops.dataset_from_graph(input_graph), element_spec
      )
    iterator = tf.compat.v1.data.make_initializable_iterator(dataset)
    features, labels = estimator_util.parse_iterator_result(iterator.get_next())
    spec = estimator._call_model_fn(features, labels, tf.estimator.ModeKeys.TRAIN, estimator.config)
    global_step = tf.compat.v1.train.get_global_step(graph)
  return KeptGraph(graph, element_spec, input_graph, iterator.initializer, spec, global_step)


def spec_refusal(kept):
  """Why the model_fn's graph cannot be kept (for good), or None."""
  spec = kept.spec
  if spec.training_hooks or spec.training_chief_hooks:
    return 'the model_fn returns training hooks, which may add ops in their begin()'
  if spec.scaffold.saver is not None:
    return "the model_fn's Scaffold has a Saver of its own"
  if kept.graph.get_collection(_GraphKeys.QUEUE_RUNNERS):
    return "the model_fn's graph has queue runners"
  return None


def prepare(estimator, kept):
  """Adds what ``Estimator._train_with_estimator_spec`` adds to the graph, once.

  Runs in the kept graph, as the default graph: warm-starting (when model_dir has no
  checkpoint yet), the loss summary, the LOSSES collection and the Estimator's Saver.
  """
  config = estimator.config
  spec = kept.spec
  if estimator._warm_start_settings and not tf.train.latest_checkpoint(estimator.model_dir):
    tf.compat.v1.logging.info(
      'Warm-starting with WarmStartSettings: %s', estimator._warm_start_settings
    )
    tf.compat.v1.train.warm_start(*estimator._warm_start_settings)
  if not any(s.op.name == 'loss' for s in tf.compat.v1.get_collection(_GraphKeys.SUMMARIES)):
    tf.compat.v1.summary.scalar('loss', spec.loss)
  tf.compat.v1.add_to_collection(_GraphKeys.LOSSES, spec.loss)
  if not tf.compat.v1.get_collection(_GraphKeys.SAVERS):
    tf.compat.v1.add_to_collection(
      _GraphKeys.SAVERS,
      tf.compat.v1.train.Saver(
        sharded=True,
        max_to_keep=config.keep_checkpoint_max,
        keep_checkpoint_every_n_hours=config.keep_checkpoint_every_n_hours,
        defer_build=True,
        save_relative_paths=True,
      ),
    )
  kept.prepared = True
