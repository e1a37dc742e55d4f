// en -> es on the small files in fixtures/ with the tiny random encoder
// (fixtures/encoder/tiny-bert, hidden size 32): the encoder backend end to end in seconds, for
// the tests. XNER_FIXTURES: the fixtures directory (default fixtures); XNER_ENCODER: another
// checkpoint (then XNER_ENCODER_DIM: its hidden size).
local base = import '../base.libsonnet';
local fixtures = base.ext('XNER_FIXTURES', 'fixtures');

// encoder.libsonnet with the tiny encoder (indexer and embedder alike), both of its layers
// cached and mixed.
local encoder = (import 'encoder.libsonnet') {
  encoder:: base.ext('XNER_ENCODER', fixtures + '/encoder/tiny-bert'),
  cache_layers:: [0, 1, 2],
  layers:: [1, 2],
  layer_mix:: 'scalar_mix',
  hp:: super.hp {
    word_hidden_size: 16,
    dropout: 0.2,
    lr: 0.01,
    batch_size: 16,
    num_epochs: std.parseInt(base.ext('XNER_NUM_EPOCHS', '3')),
    patience: 3,
  },
};

local source_vectors = fixtures + '/vectors/wiki.multi.en.vec';
local target_vectors = fixtures + '/vectors/wiki.multi.es.vec';
// English and its word-by-word Spanish translation; the Spanish dev/test reader never
// translates.
local translator = base.translator(fixtures + '/dictionaries/en-es.txt', source_vectors, target_vectors);

encoder.tagger(
  train=fixtures + '/conll/en.train',
  dev=fixtures + '/conll/es.dev',
  test=fixtures + '/conll/es.test',
  train_reader=encoder.reader('utf-8', false, false, translator, 'append'),
  target_reader=encoder.reader('latin-1', false, false),
  encoder_dim=std.parseInt(base.ext('XNER_ENCODER_DIM', '32')),
  target_language='es',
)
