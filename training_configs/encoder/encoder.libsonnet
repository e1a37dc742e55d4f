// The multilingual-encoder backend: word features of a pretrained transformer (frozen and
// cached on CPU, `cached_transformer_mismatched`), optionally with the paper's uroman
// character BiLSTM and aligned word vectors, -> BiLSTM -> CRF (BIOUL, constrained), trained on
// English (optionally + its reverse translation) and selected on the target dev set.
//
// XNER_ENCODER: a checkpoint directory (`allennlp xner-encoder --output-dir DIR` builds
// multilingual-e5-small offline) or any Hugging Face name (xlm-roberta-base,
// bert-base-multilingual-cased, intfloat/multilingual-e5-small) where the hub is reachable.
local base = import '../base.libsonnet';
local ext = base.ext;

local parse_layers(text) =
  if text == 'last' || text == 'all' then text
  else [std.parseInt(x) for x in std.split(text, ',')];

{
  encoder:: ext('XNER_ENCODER', 'encoders/multilingual-e5-small'),

  // Hyper-parameters of the encoder path (the frozen encoder does most of the work, so a
  // smaller tagger with Adam converges in a few epochs). XNER_* variables override.
  hp:: {
    word_hidden_size: 200,
    char_embedding_dim: 25,
    char_hidden_size: 25,
    dropout: 0.5,
    lr: 0.001,
    grad_norm: 5.0,
    batch_size: 32,
    num_epochs: std.parseInt(ext('XNER_NUM_EPOCHS', '10')),
    patience: 3,
  },

  // Hidden states cached (a superset of what any encoder config mixes, so that they all share
  // one cache) and the ones mixed: the upper two thirds of the 12 layers with a learned
  // scalar mix by default.
  cache_layers:: parse_layers(ext('XNER_CACHE_LAYERS', '4,5,6,7,8,9,10,11,12')),
  layers:: parse_layers(ext('XNER_LAYERS', '4,5,6,7,8,9,10,11,12')),
  layer_mix:: ext('XNER_LAYER_MIX', 'scalar_mix'),
  // Arithmetic of the frozen encoder: float32, or int8 (dynamic quantisation of its Linear
  // layers, CPU only; part of the feature cache's fingerprint).
  precision:: ext('XNER_ENCODER_PRECISION', 'float32'),
  // What runs the frozen encoder: auto (ONNX Runtime where it applies, else torch), torch or
  // onnxruntime. float32 features are the same in both.
  runtime:: ext('XNER_ENCODER_RUNTIME', 'auto'),

  // XNER_TRAIN_LAYERS=N fine-tunes the top N transformer layers (the embedder checks the range),
  // with their own learning rate: the head's 1e-3 would wreck pretrained weights.
  train_layers::
    local text = ext('XNER_TRAIN_LAYERS', '0');
    if std.length(text) > 0 && std.length(std.filter(function(c) c < '0' || c > '9', std.stringChars(text))) == 0
    then std.parseInt(text)
    else error ('XNER_TRAIN_LAYERS must be a whole number of layers (0 = all frozen), got ' + text),
  encoder_lr:: std.parseJson(ext('XNER_ENCODER_LR', '5e-5')),

  indexers(characters, word_vectors):: {
    encoder: { type: 'surface_transformer_mismatched', model_name: $.encoder },
    [if word_vectors then 'tokens']: { type: 'single_id' },
    [if characters then 'token_characters']: { type: 'romanized_characters', min_padding_length: 3 },
  },

  reader(encoding, characters, word_vectors, translator=null, translation_mode='append', extra={})::
    base.reader(encoding=encoding, uroman=characters, translator=translator,
                translation_mode=translation_mode, extra=extra)
    { token_indexers: $.indexers(characters, word_vectors) },

  // The whole experiment on given files: train on `train` (read by `train_reader`), select on
  // `dev` and score `test` (`target_reader`; 'none' skips it). `characters`: + the uroman
  // character BiLSTM; `word_vectors`: + the frozen aligned word vectors (`source_vectors`,
  // `target_vectors`, `vector_dim`); `encoder_dim`: the encoder's hidden size; `target_language`:
  // the predictor's tokenizer language.
  tagger(train, dev, test, train_reader, target_reader, characters=false, word_vectors=false,
         source_vectors=null, target_vectors=null, vector_dim=300,
         model_name=$.encoder, encoder_dim=std.parseInt(ext('XNER_ENCODER_DIM', '384')),
         layers=$.layers, cache_layers=$.cache_layers, layer_mix=$.layer_mix,
         train_encoder=ext('XNER_TRAIN_ENCODER', 'false') == 'true', cache_dir='default', hp=$.hp,
         target_language=null, train_layers=$.train_layers, precision=$.precision,
         runtime=$.runtime)::
    local input_dim = (if word_vectors then vector_dim else 0)
                      + (if characters then 2 * hp.char_hidden_size else 0);
    {
      dataset_reader: train_reader,
      validation_dataset_reader: target_reader,
      train_data_path: train,
      validation_data_path: dev,
      [if test != 'none' then 'test_data_path']: test,
      evaluate_on_test: test != 'none',
      [if word_vectors then 'vocabulary']: {
        type: 'from_instances_and_vectors',
        vector_files: [target_vectors],
      },
      model: {
        type: 'xner_crf_tagger',
        label_encoding: 'BIOUL',
        constrain_crf_decoding: true,
        calculate_span_f1: true,
        verbose_metrics: true,
        include_start_end_transitions: false,
        dropout: hp.dropout,
        text_field_embedder: {
          token_embedders: {
            encoder: {
              type: 'cached_transformer_mismatched',
              model_name: model_name,
              layers: layers,
              cache_layers: cache_layers,
              layer_mix: layer_mix,
              train_parameters: train_encoder,
              [if train_layers > 0 then 'train_layers']: train_layers,
              precision: precision,
              runtime: runtime,
              // On disk too ('default': $XNER_FEATURE_CACHE): every run on the same encoder
              // reuses the features.
              cache_dir: cache_dir,
            },
            [if word_vectors then 'tokens']: {
              type: 'aligned_vectors',
              embedding_dim: vector_dim,
              pretrained_file: [source_vectors, target_vectors],
            },
            [if characters then 'token_characters']: {
              type: base.modules.character_encoding,
              embedding: { embedding_dim: hp.char_embedding_dim, vocab_namespace: 'token_characters' },
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
          type: base.modules.lstm,
          // 384: multilingual-e5-small's hidden size; XNER_ENCODER_DIM for other encoders.
          input_size: encoder_dim + input_dim,
          hidden_size: hp.word_hidden_size,
          bidirectional: true,
        },
        batched_crf: base.speed,
        [if target_language != null then 'target_language']: target_language,
        initializer: {
          // Not the encoder's own weights, nor the CRF's constraint mask.
          regexes: [['.*', { type: 'uniform', a: -0.1, b: 0.1 }]],
          prevent_regexes: ['.*_constraint_mask', '.*token_embedder_encoder\\.transformer.*', '.*scalar_parameters.*', '.*gamma.*'],
        },
      },
      data_loader: { batch_sampler: { type: 'bucket', batch_size: hp.batch_size } },
      trainer: {
        optimizer: {
          type: 'adam',
          lr: hp.lr,
          [if train_layers > 0 then 'parameter_groups']: [
            [['token_embedder_encoder\\.transformer\\.'], { lr: $.encoder_lr }],
          ],
        },
        grad_norm: hp.grad_norm,
        num_epochs: hp.num_epochs,
        patience: hp.patience,
        validation_metric: '+f1-measure-overall',
        // The device and mixed precision of XNER_PROFILE (`gpu`: GPU 0 with use_amp); the
        // rest of the static profiles does not apply to this path.
        cuda_device: std.parseInt(ext('XNER_CUDA_DEVICE', std.toString(base.profile().cuda_device))),
        [if base.profile().use_amp then 'use_amp']: true,
        checkpointer: { keep_most_recent_by_count: 1 },
        callbacks: base.callbacks,
      },
      // The encoder's config and tokenizer travel inside model.tar.gz (the weights are in
      // weights.th), so the archive works where the checkpoint directory is gone.
      include_in_archive: ['encoder'],
      random_seed: std.parseInt(ext('XNER_SEED', '13')),
      numpy_seed: self.random_seed,
      pytorch_seed: self.random_seed,
    } + base.distributed(),

  // One en -> lang experiment (base.targets: each target's files and options, from
  // xner_allennlp/common/languages.json).
  // `translation`: reverse-translated copies of the English sentences ('append': English and
  // translation, 'replace': translation only, 'none'); `characters`: + the uroman character
  // BiLSTM; `word_vectors`: + the frozen aligned word vectors.
  en_to(lang, translation=ext('XNER_TRANSLATION', 'append'), characters=false, word_vectors=false,
        layers=$.layers, layer_mix=$.layer_mix, hp=$.hp)::
    local target = base.targets[lang];
    local source_vectors = ext('XNER_SOURCE_VECTORS', base.data + '/vectors/wiki.multi.en.vec');
    local target_vectors = ext('XNER_TARGET_VECTORS', base.data + '/vectors/wiki.multi.' + lang + '.vec');
    local dictionary = ext('XNER_DICTIONARY', base.data + '/dictionaries/en-' + lang + '.txt');
    local translator =
      if translation == 'none' || dictionary == 'none' then null
      else base.translator(dictionary, source_vectors, target_vectors);
    local english = ext('XNER_TRAIN', base.data + '/' + base.languages.en.train.path);
    local english_reader = $.reader('utf-8', characters, word_vectors, translator,
                                    if translation == 'none' then 'replace' else translation,
                                    target.source_extra);
    // Self-training: XNER_PSEUDO is target text labelled by an earlier model
    // (`allennlp xner-self-train`), read beside the English data (two sources).
    local pseudo = ext('XNER_PSEUDO', 'none');
    local train_reader =
      if pseudo == 'none' then english_reader
      else {
        type: 'multi_source',
        sources: {
          en: { path: english, reader: english_reader },
          pseudo: { path: pseudo, reader: $.reader('utf-8', characters, word_vectors, extra=target.target_extra) },
        },
      };
    $.tagger(
      train=if pseudo == 'none' then english else 'en,pseudo',
      dev=ext('XNER_DEV', target.dev),
      test=ext('XNER_TEST', target.test),
      train_reader=train_reader,
      target_reader=$.reader(ext('XNER_TARGET_ENCODING', target.encoding),
                             characters, word_vectors, extra=target.target_extra),
      characters=characters,
      word_vectors=word_vectors,
      source_vectors=source_vectors,
      target_vectors=target_vectors,
      vector_dim=std.parseInt(ext('XNER_VECTOR_DIM', '300')),
      layers=layers,
      layer_mix=layer_mix,
      hp=hp,
      target_language=lang,
    ),
}
