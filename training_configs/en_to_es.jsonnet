// English -> Spanish (CoNLL-2002). The shared copy is NLTK's UTF-8 one; set
// XNER_TARGET_ENCODING=latin-1 for the original distribution.
local base = import 'base.libsonnet';

base.en_to('es')
