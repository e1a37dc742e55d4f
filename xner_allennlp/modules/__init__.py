"""Nothing lives here any more: the encoder feature cache is
`xner_allennlp.token_embedders.feature_cache`, beside the one embedder that uses it, and the
speed modules are in `xner_allennlp.speed`."""
