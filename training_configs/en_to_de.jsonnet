// English -> German (CoNLL-2003, latin-1, 5 columns).
local base = import 'base.libsonnet';

base.en_to(
  'de',
  dev=base.data + '/conll2003_de/deu.testa',
  test=base.data + '/conll2003_de/deu.testb',
  encoding='latin-1',
)
