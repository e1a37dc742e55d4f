// English -> de on the multilingual encoder (encoder.libsonnet); XNER_TRANSLATION=none|append|replace.
local encoder = import 'encoder.libsonnet';

encoder.en_to('de')
