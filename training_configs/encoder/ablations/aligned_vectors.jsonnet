// Encoder path + the frozen aligned word vectors. Target: XNER_TARGET (es).
local encoder = import '../encoder.libsonnet';
local base = import '../../base.libsonnet';

encoder.en_to(base.ext('XNER_TARGET', 'es'), word_vectors=true)
