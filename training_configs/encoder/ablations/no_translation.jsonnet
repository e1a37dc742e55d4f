// Encoder path without reverse translation: English sentences only. Target: XNER_TARGET (es).
local encoder = import '../encoder.libsonnet';
local base = import '../../base.libsonnet';

encoder.en_to(base.ext('XNER_TARGET', 'es'), translation='none')
