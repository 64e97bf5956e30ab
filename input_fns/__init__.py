"""Input side: builders that return input_fns (tf.data based)."""
