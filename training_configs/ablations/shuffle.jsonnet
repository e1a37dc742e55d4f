// Ablation of the en -> XNER_TARGET experiment (default es, training_configs/en_to_es.jsonnet):
// the English training sentences have their words shuffled (each entity's words kept together
// and in order), so the model cannot rely on word order (the paper's word-order analysis).
// Compare its test F1 with en_to_es.jsonnet's to measure that component's contribution.
// On other data, point the XNER_* environment variables at it (xner_allennlp/common/config_vars.py).
local base = import '../base.libsonnet';
local lang = base.ext('XNER_TARGET', 'es');

base.en_to(lang, source_extra={ shuffle_words: true })
