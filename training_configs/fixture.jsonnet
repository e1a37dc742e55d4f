// en -> es on the small files in fixtures/: tiny dimensions, for the tests and `make demo`.
local base = import 'base.libsonnet';
local fixtures = base.ext('XNER_FIXTURES', 'fixtures');

local hp = base.paper {
  char_embedding_dim: 16,
  char_hidden_size: 16,
  word_hidden_size: 32,
  num_epochs: 8,
  patience: 8,
  batch_size: 8,
  lr: 0.05,
};
local source_vectors = fixtures + '/vectors/wiki.multi.en.vec';
local target_vectors = fixtures + '/vectors/wiki.multi.es.vec';
// Only the English training reader translates; the Spanish dev/test reader never does.
local translator = base.translator(fixtures + '/dictionaries/en-es.txt', source_vectors, target_vectors);

base.tagger(
  train=fixtures + '/conll/en.train',
  dev=fixtures + '/conll/es.dev',
  test=fixtures + '/conll/es.test',
  source_vectors=source_vectors,
  target_vectors=target_vectors,
  vector_dim=50,
  train_reader=base.reader(translator=translator),
  target_reader=base.reader(encoding='latin-1'),
  hp=hp,
  target_language='es',
)
