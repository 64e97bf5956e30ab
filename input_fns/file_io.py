"""The file input functions' public module path: re-exports the CSV and TFRecord builders."""

from tfest_adapters.input_fns._csv import csv_input_fn
from tfest_adapters.input_fns._tfrecord import tfrecord_input_fn
from tfest_adapters.input_fns._tfrecord_writer import TFRecordFiles
from tfest_adapters.input_fns._tfrecord_writer import write_tfrecords

__all__ = ['csv_input_fn', 'tfrecord_input_fn', 'write_tfrecords', 'TFRecordFiles']
