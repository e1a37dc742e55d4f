// Shared settings of every xner config: the paper's model and training hyper-parameters
// (Huang, May & Peng 2019, section 4).
//
// `tagger()` is allennlp-models' training_config/tagging/ner.jsonnet (crf_tagger, BIOUL,
// constrained decoding, span F1, dropout 0.5, no start/end transitions, tokens +
// token_characters -> BiLSTM, grad norm 5, patience 25) with the paper's choices where it
// differs (the table is in README.md, "The model against allennlp-models' ner.jsonnet"):
// the `xner_conll` reader and `romanized_characters` indexer for conll2003 and `characters`;
// frozen `aligned_vectors` (+ the target's words in the vocabulary) for trainable GloVe; a
// 300-d char BiLSTM for a 16-d cnn; a 1-layer 300-d word BiLSTM for 2 layers of 200; SGD with
// momentum and lr decay, U(-0.1, 0.1) init, batches of 10 and 200 epochs for adam; and
// `xner_crf_tagger` for crf_tagger (+ target_language, a distributed-safe span F1, the
// xner_tagger predictor).
//
// One field changes how the model computes, not what: `speed` (XNER_SPEED, default true)
// builds `packed_lstm` for `lstm`, `unique_character_encoding` for `character_encoding` and
// `batched_crf: true` (xner_allennlp/speed/: same parameters, same outputs, faster).
// XNER_SPEED=false builds allennlp's stock modules.
//
// Paths come from environment variables (allennlp passes them to jsonnet as ext vars). The
// xner_allennlp plugin defines each XNER_* variable as "" when it is unset, and `ext` maps ""
// to the default, so every path below has one.
local ext(name, default) =
  local value = std.extVar(name);
  if value == '' then default else value;

local data = ext('XNER_DATA', '../shared/data');
local languages = import '../xner_allennlp/common/languages.json';

local speed =
  local value = ext('XNER_SPEED', 'true');
  if value == 'true' then true
  else if value == 'false' then false
  else error ('XNER_SPEED must be true or false, got ' + value);

// Hyper-parameter profiles: overrides of `paper`, picked with XNER_PROFILE.
local profiles = {
  paper: import 'profiles/paper.libsonnet',
  cpu_fast: import 'profiles/cpu_fast.libsonnet',
  gpu: import 'profiles/gpu.libsonnet',
};

{
  ext:: ext,
  data:: data,

  languages:: languages,

  // Each target's dev and test files (under XNER_DATA), their encoding, and the reader options
  // of the source (English) and target sides, from the package's language table.
  targets:: {
    [lang]: {
      dev: data + '/' + languages[lang].dev.path,
      test: data + '/' + languages[lang].test.path,
      encoding: languages[lang].dev.encoding,
      source_extra: languages[lang].source_extra,
      target_extra: languages[lang].target_extra,
    }
    for lang in std.objectFields(languages)
    if lang != 'en' && languages[lang].dev != null
  },

  // Drop-in speed modules (xner_allennlp/speed/) or allennlp's stock ones (XNER_SPEED=false).
  speed:: speed,
  modules:: if $.speed then { lstm: 'packed_lstm', character_encoding: 'unique_character_encoding' }
            else { lstm: 'lstm', character_encoding: 'character_encoding' },

  // The hyper-parameters of profile `name` (XNER_PROFILE, default `paper`).
  profile(name=ext('XNER_PROFILE', 'paper'))::
    if std.objectHas(profiles, name) then $.paper + profiles[name]
    else error ('XNER_PROFILE ' + name + ' is not one of: ' + std.join(', ', std.objectFields(profiles))),

  // XNER_DISTRIBUTED: allennlp's `distributed` key from a comma-separated device list, one
  // worker per entry ("-1,-1": two CPU workers over gloo; "0,1": two GPUs over nccl). The test
  // set is evaluated as in one process, by the primary alone after the archive is written
  // (xner_allennlp/training/train_loop.py), so `-o '{"distributed": ...}'` does the same.
  distributed(value=ext('XNER_DISTRIBUTED', 'none'))::
    local ids = std.split(std.strReplace(value, ' ', ''), ',');
    local valid = value != '' && std.all([std.length(x) > 0 && std.all([std.member('-0123456789', c) for c in std.stringChars(x)]) for x in ids]);
    if value == 'none' then {}
    else if !valid then error ('XNER_DISTRIBUTED must be none or comma-separated device ids (-1 for a CPU worker), got ' + std.toString(value))
    else if std.length(ids) < 2 then error ('XNER_DISTRIBUTED needs at least two workers, got ' + value)
    else { distributed: { cuda_devices: [std.parseInt(x) for x in ids] } },

  // Every config's trainer callbacks. Torch threads for the cores not busy with other jobs
  // ("auto"), or XNER_NUM_THREADS; and the random number generator states saved with each
  // checkpoint, so that `allennlp train --recover` repeats the uninterrupted run
  // (xner_allennlp/training/rng_checkpoint.py).
  callbacks:: [
    { type: 'torch_threads', num_threads: ext('XNER_NUM_THREADS', 'auto') },
    { type: 'rng_checkpoint' },
  ],

  // The paper's dimensions. Profiles (profiles/*.libsonnet) may override any of these.
  paper:: {
    char_embedding_dim: 300,
    char_hidden_size: 300,
    word_hidden_size: 300,
    dropout: 0.5,
    lr: 0.01,
    momentum: 0.9,
    lr_decay: 0.05,
    grad_norm: 5.0,
    num_epochs: 200,
    patience: 25,
    batch_size: 10,
    // Where the trainer runs (XNER_CUDA_DEVICE overrides) and whether it uses mixed precision
    // (allennlp's use_amp, GPU only): the `gpu` profile sets 0 and true.
    cuda_device: -1,
    use_amp: false,
  },

  // Word-by-word reverse translation of the English training data (section 3.2).
  translator(dictionary, source_vectors, target_vectors, alpha=0.5):: {
    type: 'context_dictionary',
    dictionary: dictionary,
    source_vectors: source_vectors,
    target_vectors: target_vectors,
    alpha: alpha,
  },

  reader(encoding='utf-8', uroman=true, translator=null, translation_mode='replace', extra={}):: {
    type: 'xner_conll',
    encoding: encoding,
    token_indexers: {
      tokens: { type: 'single_id' },
      token_characters: { type: 'romanized_characters', min_padding_length: 3 },
    },
    romanizer: { type: if uroman then 'uroman' else 'identity' },
  } + (if translator == null then {} else { translator: translator, translation_mode: translation_mode })
    + extra,

  // The full experiment: train on English (`train_reader`), select on the target dev set and
  // score the target test set (`target_reader`). `hp` are the hyper-parameters (`paper` or a
  // profile's); `word_vectors` / `characters` switch the two halves of the input (ablations);
  // `target_language` (a code of the language table) is the predictor's tokenizer language.
  tagger(
    train,
    dev,
    test,
    source_vectors,
    target_vectors,
    vector_dim,
    train_reader,
    target_reader,
    hp=$.paper,
    word_vectors=true,
    characters=true,
    target_language=null,
    composition=ext('XNER_COMPOSITION', 'none'),
  )::
    local test_path = if test == 'none' then null else test;
    local char_dim = 2 * hp.char_hidden_size;
    local composed = composition != 'none' && word_vectors;
    local word_dropout = std.parseJson(ext('XNER_WORD_DROPOUT', '0'));
    // A switched-off half is not indexed either: the embedder needs the same keys as the input.
    local inputs(reader) =
      if !std.objectHas(reader, 'token_indexers') then reader
      else reader {
        token_indexers: {
          [name]: reader.token_indexers[name]
          for name in std.objectFields(reader.token_indexers)
          if (name != 'tokens' || word_vectors) && (name != 'token_characters' || characters)
        },
      };
    {
      dataset_reader: inputs(train_reader),
      // A target word outside the vocabulary gets a vector from its character n-grams
      // (XNER_COMPOSITION: the composition-<lang>.npz of `xner-align --composition-model`).
      validation_dataset_reader: inputs(target_reader) + (
        if composed then { token_indexers+: { tokens+: { type: 'single_id_with_ngrams' } } } else {}
      ),
      train_data_path: train,
      validation_data_path: dev,
      [if test_path != null then 'test_data_path']: test_path,
      evaluate_on_test: test_path != null,
      vocabulary: {
        type: 'from_instances_and_vectors',
        vector_files: [target_vectors],
      },
      model: {
        // crf_tagger, its span F1 distributed-safe, its default predictor xner_tagger.
        type: 'xner_crf_tagger',
        label_encoding: 'BIOUL',
        constrain_crf_decoding: true,
        calculate_span_f1: true,
        // Span P/R/F1 per entity type too, in training logs and `allennlp evaluate`.
        verbose_metrics: true,
        include_start_end_transitions: false,
        dropout: hp.dropout,
        text_field_embedder: {
          token_embedders: {
            [if word_vectors then 'tokens']: {
              type: 'aligned_vectors',
              embedding_dim: vector_dim,
              // One source's vectors, or several sources' (multi_source/) merged first.
              pretrained_file:
                (if std.isArray(source_vectors) then source_vectors else [source_vectors]) + [target_vectors],
              [if composed then 'composition']: { pretrained_file: composition },
              [if word_dropout > 0 then 'word_dropout']: word_dropout,
            },
            [if characters then 'token_characters']: {
              type: $.modules.character_encoding,
              embedding: {
                embedding_dim: hp.char_embedding_dim,
                vocab_namespace: 'token_characters',
              },
              encoder: {
                type: 'lstm',
                input_size: hp.char_embedding_dim,
                hidden_size: hp.char_hidden_size,
                bidirectional: true,
              },
            },
          },
        },
        encoder: {
          type: $.modules.lstm,
          input_size: (if word_vectors then vector_dim else 0) + (if characters then char_dim else 0),
          hidden_size: hp.word_hidden_size,
          bidirectional: true,
        },
        batched_crf: $.speed,
        // Kept in the archive: the predictor tokenizes in it.
        [if target_language != null then 'target_language']: target_language,
        // The aligned vectors are buffers, not parameters, so this never touches them.
        // The CRF's transition-constraint mask is a (frozen) parameter too: re-initialising it
        // would undo constrain_crf_decoding and let invalid BIOUL sequences through.
        initializer: {
          regexes: [['.*', { type: 'uniform', a: -0.1, b: 0.1 }]],
          prevent_regexes: ['.*_constraint_mask'],
        },
      },
      data_loader: { batch_sampler: { type: 'bucket', batch_size: hp.batch_size } },
      trainer: {
        optimizer: { type: 'sgd', lr: hp.lr, momentum: hp.momentum },
        // Lample et al.'s clipping, which the paper follows, bounds the gradient norm.
        grad_norm: hp.grad_norm,
        learning_rate_scheduler: { type: 'inverse_time', decay: hp.lr_decay },
        num_epochs: std.parseInt(ext('XNER_NUM_EPOCHS', std.toString(hp.num_epochs))),
        patience: hp.patience,
        validation_metric: '+f1-measure-overall',
        cuda_device: std.parseInt(ext('XNER_CUDA_DEVICE', std.toString(hp.cuda_device))),
        [if hp.use_amp then 'use_amp']: true,
        checkpointer: { keep_most_recent_by_count: 1 },
        callbacks: $.callbacks,
      },
      random_seed: std.parseInt(ext('XNER_SEED', '13')),
      numpy_seed: self.random_seed,
      pytorch_seed: self.random_seed,
    } + $.distributed(),

  // One en -> `lang` experiment on the shared data. `dev`, `test` and `encoding` default to the
  // language table's (targets); `source_extra` / `target_extra` are reader options added to the
  // table's. `word_vectors`, `characters`, `uroman` and `translation` switch components off for
  // the ablations (training_configs/ablations/).
  en_to(lang, dev=null, test=null, encoding=null, target_extra={}, source_extra={}, hp=$.profile(),
        word_vectors=true, characters=true, uroman=true, translation=true)::
    local known = std.objectHas($.targets, lang);
    local table(value, field) =
      if value != null then value
      else if known then $.targets[lang][field]
      else error ('en_to: ' + lang + ' is not in the language table; pass ' + field);
    local source_extra_ = (if known then $.targets[lang].source_extra else {}) + source_extra;
    local target_extra_ = (if known then $.targets[lang].target_extra else {}) + target_extra;
    local source_vectors = ext('XNER_SOURCE_VECTORS', data + '/vectors/wiki.multi.en.vec');
    local target_vectors = ext('XNER_TARGET_VECTORS', data + '/vectors/wiki.multi.' + lang + '.vec');
    local dictionary = ext('XNER_DICTIONARY', data + '/dictionaries/en-' + lang + '.txt');
    local translator =
      if !translation || dictionary == 'none' then null
      else $.translator(dictionary, source_vectors, target_vectors);
    local english = ext('XNER_TRAIN', data + '/' + languages.en.train.path);
    // The target's orthography (capitalize_nouns, lowercase_adjectives) is for the English
    // translated into the target: without a translator the English stays as English writes it.
    local orthography = ['capitalize_nouns', 'noun_tags', 'lowercase_adjectives', 'adjective_tags'];
    local english_extra =
      if translator != null then source_extra_
      else { [k]: source_extra_[k] for k in std.objectFields(source_extra_) if !std.member(orthography, k) };
    local english_reader = $.reader(uroman=uroman, translator=translator, extra=english_extra);
    // Self-training: XNER_PSEUDO is target text labelled by an earlier model
    // (`allennlp xner-self-train`, which writes UTF-8), read beside the English data.
    local pseudo = ext('XNER_PSEUDO', 'none');
    $.tagger(
      train=if pseudo == 'none' then english else 'en,pseudo',
      dev=ext('XNER_DEV', table(dev, 'dev')),
      test=ext('XNER_TEST', table(test, 'test')),
      source_vectors=source_vectors,
      target_vectors=target_vectors,
      vector_dim=std.parseInt(ext('XNER_VECTOR_DIM', '300')),
      train_reader=if pseudo == 'none' then english_reader else {
        type: 'multi_source',
        sources: {
          en: { path: english, reader: english_reader },
          pseudo: { path: pseudo, reader: $.reader(uroman=uroman, extra=target_extra_) },
        },
      },
      target_reader=$.reader(
        encoding=ext('XNER_TARGET_ENCODING', table(encoding, 'encoding')), uroman=uroman, extra=target_extra_
      ),
      hp=hp,
      word_vectors=word_vectors,
      characters=characters,
      target_language=lang,
    ),
}
