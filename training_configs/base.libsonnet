// Shared settings of every xner config: the paper's model and training hyper-parameters
// (Huang, May & Peng 2019, section 4) on the stock allennlp-models `crf_tagger`.
//
// Paths come from environment variables (allennlp passes them to jsonnet as ext vars). The
// xner_allennlp plugin defines each XNER_* variable as "" when it is unset, and `ext` maps ""
// to the default, so every path below has one.
local ext(name, default) =
  local value = std.extVar(name);
  if value == '' then default else value;

local data = ext('XNER_DATA', '../shared/data');

// Hyper-parameter profiles: overrides of `paper`, picked with XNER_PROFILE.
local profiles = {
  paper: import 'profiles/paper.libsonnet',
  cpu_fast: import 'profiles/cpu_fast.libsonnet',
  gpu: import 'profiles/gpu.libsonnet',
};

{
  ext:: ext,
  data:: data,

  // Each target's dev and test files (under XNER_DATA), their encoding, and the reader options
  // of the source (English) and target sides.
  targets:: {
    es: { dev: data + '/conll2002/esp.testa', test: data + '/conll2002/esp.testb', encoding: 'utf-8',
          source_extra: {}, target_extra: {} },
    nl: { dev: data + '/conll2002/ned.testa', test: data + '/conll2002/ned.testb', encoding: 'utf-8',
          source_extra: {}, target_extra: {} },
    de: { dev: data + '/conll2003_de/deu.testa', test: data + '/conll2003_de/deu.testb',
          encoding: 'latin-1', source_extra: {}, target_extra: {} },
    // The paper scores PER/ORG/LOC only for Bengali; the Rifat file's bare TIM tag is time (O)
    // and a few of its lines have no tag.
    bn: { dev: data + '/bengali/bn.dev.txt', test: data + '/bengali/bn.test.txt', encoding: 'utf-8',
          source_extra: { drop_tag_types: ['MISC'] },
          target_extra: { drop_tag_types: ['MISC'], tag_map: { TIM: 'O' }, empty_tag: 'O' } },
  },

  // The hyper-parameters of profile `name` (XNER_PROFILE, default `paper`).
  profile(name=ext('XNER_PROFILE', 'paper'))::
    if std.objectHas(profiles, name) then $.paper + profiles[name]
    else error ('XNER_PROFILE ' + name + ' is not one of: ' + std.join(', ', std.objectFields(profiles))),

  // XNER_DISTRIBUTED: allennlp's `distributed` key from a comma-separated device list, one
  // worker per entry ("-1,-1": two CPU workers over gloo; "0,1": two GPUs over nccl). allennlp
  // 2.10 evaluates the test set in the primary worker alone after the others have left,
  // which its all-reducing metrics cannot do, so distributed runs skip evaluate_on_test (run
  // `allennlp evaluate` on the archive instead).
  distributed(value=ext('XNER_DISTRIBUTED', 'none'))::
    local ids = std.split(std.strReplace(value, ' ', ''), ',');
    local valid = value != '' && std.all([std.length(x) > 0 && std.all([std.member('-0123456789', c) for c in std.stringChars(x)]) for x in ids]);
    if value == 'none' then {}
    else if !valid then error ('XNER_DISTRIBUTED must be none or comma-separated device ids (-1 for a CPU worker), got ' + std.toString(value))
    else if std.length(ids) < 2 then error ('XNER_DISTRIBUTED needs at least two workers, got ' + value)
    else { distributed: { cuda_devices: [std.parseInt(x) for x in ids] }, evaluate_on_test: false },

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
  // profile's); `word_vectors` / `characters` switch the two halves of the input (ablations).
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
  )::
    local test_path = if test == 'none' then null else test;
    local char_dim = 2 * hp.char_hidden_size;
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
      validation_dataset_reader: inputs(target_reader),
      train_data_path: train,
      validation_data_path: dev,
      [if test_path != null then 'test_data_path']: test_path,
      evaluate_on_test: test_path != null,
      vocabulary: {
        type: 'from_instances_and_vectors',
        vector_files: [target_vectors],
      },
      model: {
        // The stock crf_tagger under a name whose default predictor is xner_tagger.
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
            },
            [if characters then 'token_characters']: {
              // character_encoding's parameters and output, each distinct word of a batch
              // encoded once (benchmarks/README.md).
              type: 'unique_character_encoding',
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
        // lstm's parameters and output, faster on CPU (xner_allennlp/modules/packed_lstm.py).
        encoder: {
          type: 'packed_lstm',
          input_size: (if word_vectors then vector_dim else 0) + (if characters then char_dim else 0),
          hidden_size: hp.word_hidden_size,
          bidirectional: true,
        },
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

  // One en -> target experiment on the shared data, the language-specific parts as arguments.
  // `word_vectors`, `characters`, `uroman` and `translation` switch components off for the
  // ablations (training_configs/ablations/).
  en_to(lang, dev, test, encoding, target_extra={}, source_extra={}, hp=$.profile(),
        word_vectors=true, characters=true, uroman=true, translation=true)::
    local source_vectors = ext('XNER_SOURCE_VECTORS', data + '/vectors/wiki.multi.en.vec');
    local target_vectors = ext('XNER_TARGET_VECTORS', data + '/vectors/wiki.multi.' + lang + '.vec');
    local dictionary = ext('XNER_DICTIONARY', data + '/dictionaries/en-' + lang + '.txt');
    local translator =
      if !translation || dictionary == 'none' then null
      else $.translator(dictionary, source_vectors, target_vectors);
    local english = ext('XNER_TRAIN', data + '/conll2003/eng.train');
    // capitalize_nouns changes translated sentences only: without a translator it has none.
    local english_extra =
      if translator != null then source_extra
      else { [k]: source_extra[k] for k in std.objectFields(source_extra) if k != 'capitalize_nouns' };
    local english_reader = $.reader(uroman=uroman, translator=translator, extra=english_extra);
    // Self-training: XNER_PSEUDO is target text labelled by an earlier model
    // (`allennlp xner-self-train`, which writes UTF-8), read beside the English data.
    local pseudo = ext('XNER_PSEUDO', 'none');
    $.tagger(
      train=if pseudo == 'none' then english else 'en,pseudo',
      dev=ext('XNER_DEV', dev),
      test=ext('XNER_TEST', test),
      source_vectors=source_vectors,
      target_vectors=target_vectors,
      vector_dim=std.parseInt(ext('XNER_VECTOR_DIM', '300')),
      train_reader=if pseudo == 'none' then english_reader else {
        type: 'multi_source',
        sources: {
          en: { path: english, reader: english_reader },
          pseudo: { path: pseudo, reader: $.reader(uroman=uroman, extra=target_extra) },
        },
      },
      target_reader=$.reader(
        encoding=ext('XNER_TARGET_ENCODING', encoding), uroman=uroman, extra=target_extra
      ),
      hp=hp,
      word_vectors=word_vectors,
      characters=characters,
    ),
}
