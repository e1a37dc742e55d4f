// One archive for every target language (the shipped model, models/README.md): the encoder's
// features alone (XNER_CHARACTERS=true adds the uroman character BiLSTM, lowercase a
// case-blind one: both worse on German and Bengali, docs/RESULTS.md), trained on English
// CoNLL-2003 alone (no reverse translation, which would tie it to one target) and selected on
// the English dev set, so no target-language file is read at all. The predictor's language is
// `--predictor-args '{"language": "de"}'` or, by default, detected from the text.
local encoder = import 'encoder.libsonnet';
local base = import '../base.libsonnet';
local ext = base.ext;
local en = base.languages.en;

// `lowercase`: the character BiLSTM reads lower-cased words (`lowercase_characters`), blind to
// the capitals that German puts on every noun and that Bengali's script does not have.
local mode = ext('XNER_CHARACTERS', 'false');
local characters =
  if mode == 'true' || mode == 'lowercase' then true
  else if mode == 'false' then false
  else error ('XNER_CHARACTERS must be true, false or lowercase, got ' + mode);
local english = encoder.reader('utf-8', characters=characters, word_vectors=false,
                               extra=if mode == 'lowercase' then { lowercase_characters: true } else {});

encoder.tagger(
  train=ext('XNER_TRAIN', base.data + '/' + en.train.path),
  dev=ext('XNER_DEV', base.data + '/' + en.dev.path),
  test=ext('XNER_TEST', 'none'),
  train_reader=english,
  target_reader=english,
  characters=characters,
  // No language of its own: the predictor detects each input's (`xner_tagger`'s `auto`).
  target_language='auto',
  hp=encoder.hp { num_epochs: std.parseInt(ext('XNER_NUM_EPOCHS', '3')) },
)
