"""A small TF2 text-embedding module in the TF Hub SavedModel format, made by the project.

No TF Hub module can be downloaded here, so the text case study's offline
default is this one. It is an ordinary reusable SavedModel, loaded through
`hub.KerasLayer(handle, input_shape=[], dtype=tf.string, trainable=True)`
exactly like the Universal Sentence Encoder:

- `__call__(sentences)`: a batch of strings [N] -> embeddings [N, dim] (float32);
- `variables` / `trainable_variables`: the embedding table, which fine-tuning
  (`trainable=True`) updates;
- `regularization_losses`: none.

Text is lower-cased, split into words (letters and digits), and every word and
word pair is hashed into one of `buckets` rows of the table; a sentence is the
sum of its rows divided by the square root of their number (sqrt-n). The table
starts as a seeded random projection (the classic hashing trick): a bag of
words made dense, which fine-tuning then shapes for the task.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import tensorflow as tf

DEFAULT_BUCKETS = 2**14
DEFAULT_DIM = 64
_NOT_A_WORD = r"[^\p{L}\p{N}]+"


class HashingTextEmbedding(tf.train.Checkpoint):
    """Strings -> sqrt-n sums of hashed word and word-pair vectors.

    A tf.train.Checkpoint rather than a tf.Module: hub.KerasLayer reads the
    `variables` and `trainable_variables` attributes of the loaded object, and
    tf.Module computes those as properties, which a SavedModel does not keep.
    """

    def __init__(self, buckets: int, dim: int, seed: int = 0) -> None:
        super().__init__()
        self.buckets = buckets
        initial = tf.random.stateless_normal([buckets, dim], seed=[seed, 0], stddev=dim**-0.5)
        self.embeddings = tf.Variable(initial, name="embeddings")
        self.variables = [self.embeddings]
        self.trainable_variables = [self.embeddings]
        self.regularization_losses = []

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="sentences")])
    def __call__(self, sentences: tf.Tensor) -> tf.Tensor:
        words = tokenize(sentences)
        pairs = tf.strings.ngrams(words, 2, separator=" ")
        tokens = tf.concat([words, pairs], axis=1)
        rows = tf.gather(self.embeddings, tf.strings.to_hash_bucket_fast(tokens, self.buckets))
        count = tf.cast(tokens.row_lengths(), tf.float32)
        return tf.reduce_sum(rows, axis=1) / tf.sqrt(tf.maximum(count, 1.0))[:, tf.newaxis]


def tokenize(sentences: tf.Tensor) -> tf.RaggedTensor:
    """Lower-cased words of letters and digits, [N, None]; invalid UTF-8 is replaced, not fatal."""
    text = tf.strings.unicode_transcode(
        sentences, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
    )
    text = tf.strings.regex_replace(tf.strings.lower(text), _NOT_A_WORD, " ")
    return tf.strings.split(tf.strings.strip(text))


def write_text_embedding_module(
    path: str | Path, buckets: int = DEFAULT_BUCKETS, dim: int = DEFAULT_DIM, seed: int = 0
) -> Path:
    """Save the module at `path` (written to a temporary directory, then renamed)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tf.saved_model.save(HashingTextEmbedding(buckets, dim, seed), str(tmp))
    if path.exists():
        shutil.rmtree(path)
    os.replace(tmp, path)
    return path
