// One archive for every target language (the shipped model, models/README.md): the encoder's
// features + the uroman character BiLSTM, trained on English CoNLL-2003 alone (no reverse
// translation, which would tie it to one target) and selected on the English dev set, so no
// target-language file is read at all. The predictor's language is `--predictor-args
// '{"language": "de"}'` or, by default, detected from the text.
local encoder = import 'encoder.libsonnet';
local base = import '../base.libsonnet';
local ext = base.ext;
local en = base.languages.en;

local english = encoder.reader('utf-8', characters=true, word_vectors=false);

encoder.tagger(
  train=ext('XNER_TRAIN', base.data + '/' + en.train.path),
  dev=ext('XNER_DEV', base.data + '/' + en.dev.path),
  test=ext('XNER_TEST', 'none'),
  train_reader=english,
  target_reader=english,
  characters=true,
  hp=encoder.hp { num_epochs: std.parseInt(ext('XNER_NUM_EPOCHS', '3')) },
)
