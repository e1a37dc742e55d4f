// Encoder path on the last layer only (no mix). Target: XNER_TARGET (es).
local encoder = import '../encoder.libsonnet';
local base = import '../../base.libsonnet';

encoder.en_to(base.ext('XNER_TARGET', 'es'), layers=[12], layer_mix='mean')
