"""Data helpers for the `rnnkit` command line: character-level text and CSV time series.

* `rnnkit.data.text`: a character vocabulary, the default corpus (the source files of
  Python's own standard library, already on every machine), next-character windows and
  the unigram-entropy baseline.
* `rnnkit.data.series`: one numeric CSV column, sliding windows, normalization.

Errors about user input raise `DataError` (a `ValueError`) with a one-line message.
"""

from rnnkit.data.errors import DataError
from rnnkit.data.series import Series, read_csv_column, make_windows
from rnnkit.data.text import (CharVocab, Corpus, default_corpus, next_char_windows,
                              read_text_files, unigram_entropy)

__all__ = ["DataError", "CharVocab", "Corpus", "default_corpus", "next_char_windows",
           "read_text_files", "unigram_entropy", "Series", "read_csv_column", "make_windows"]
