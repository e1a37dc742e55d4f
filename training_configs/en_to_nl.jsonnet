// English -> Dutch (CoNLL-2002). The shared copy is NLTK's UTF-8 one; set
// XNER_TARGET_ENCODING=latin-1 for the original distribution.
local base = import 'base.libsonnet';

base.en_to(
  'nl',
  dev=base.data + '/conll2002/ned.testa',
  test=base.data + '/conll2002/ned.testb',
  encoding='utf-8',
)
