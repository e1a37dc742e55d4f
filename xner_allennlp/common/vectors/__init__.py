"""
The parts of the word-vector loader, one concept a module: `table` (the `WordVectors` type and
table operations), `parsing` (text, `.vec` and `.gz` files; its pyarrow fast path in
`arrow_parsing`, what both share in `text_format`), `cache` (the binary cache on disk).
`xner_allennlp.common.word_vectors` puts them together and is what the rest of the package
imports.
"""
