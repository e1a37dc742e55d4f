// Ablation of the en -> es experiment (training_configs/en_to_es.jsonnet): no character encoder:
// the model sees only the frozen aligned word vectors.
// Compare its test F1 with en_to_es.jsonnet's to measure that component's contribution.
// On other data, point the XNER_* environment variables at it (xner_allennlp/common/config_vars.py).
local base = import '../base.libsonnet';

base.en_to('es', characters=false)
