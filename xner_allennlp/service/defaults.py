"""The service's defaults, apart from `app` so that the command line reads them without
importing aiohttp (every `allennlp` command builds every subcommand's options)."""

DEFAULT_BATCH_SIZE = 8
# A request of 1 MB is about 150k words: minutes of tagging on a CPU. Larger texts go in pieces.
DEFAULT_MAX_REQUEST_BYTES = 1_000_000
