// Multi-source transfer, the paper's "+" setting (CTNER+): the tagger trains on several
// labelled source languages at once (English, Spanish, Dutch CoNLL), English reverse-translated
// into the target as in base.libsonnet, the other sources as they are (no dictionary between
// them and the target), or with XNER_PIVOT=true translated too, through English. Still
// zero-shot: the target's labels are never read; its dev set selects the model.
//
// XNER_SOURCES: the sources, comma-separated (default: the config's); each source's aligned
// vectors come from XNER_VECTORS_<LANG> (English: XNER_SOURCE_VECTORS), all in the one space of
// the target's XNER_TARGET_VECTORS and merged into one table.
//
// A target that capitalises its nouns (the language table's `capitalizes_nouns`: German) gets
// every source's common nouns capitalised (`capitalize_nouns`, with the POS tags of each
// training file, `noun_tags`): the English translations as in en_to_de.jsonnet, the Spanish
// and Dutch sentences as they are. A target that writes adjectives of nationality in lower
// case (`lowercases_adjectives`: German, Spanish) gets the adjectives of the sources that
// capitalise them (English, Dutch) lower-cased likewise (`lowercase_adjectives`).
local base = import '../base.libsonnet';
local ext = base.ext;
local data = base.data;

{
  // The languages with a labelled training file in the language table (en, es, nl).
  train_files:: {
    [lang]: data + '/' + base.languages[lang].train.path
    for lang in std.objectFields(base.languages)
    if base.languages[lang].train != null
  },

  vectors(lang)::
    local default = data + '/vectors/wiki.multi.' + lang + '.vec';
    if lang == 'en' then ext('XNER_SOURCE_VECTORS', default)
    else ext('XNER_VECTORS_' + std.asciiUpper(lang), default),

  // `sources` -> `target`: `sources` a list of keys of train_files.
  to(target, sources, hp=base.profile())::
    local t = base.targets[target];
    local nouns(s) =
      (if base.languages[target].capitalizes_nouns
       then { capitalize_nouns: true, noun_tags: base.languages[s].train.noun_tags }
       else {})
      + (if base.languages[target].lowercases_adjectives && !base.languages[s].lowercases_adjectives
         then { lowercase_adjectives: true, adjective_tags: base.languages[s].train.adjective_tags }
         else {});
    local names = std.split(ext('XNER_SOURCES', std.join(',', sources)), ',');
    local unknown = [s for s in names if !std.objectHas($.train_files, s) || s == target];
    local target_vectors = ext('XNER_TARGET_VECTORS', $.vectors(target));
    local dictionary = ext('XNER_DICTIONARY', data + '/dictionaries/en-' + target + '.txt');
    local translator =
      if dictionary == 'none' then null
      else base.translator(dictionary, $.vectors('en'), target_vectors);
    // XNER_PIVOT=true: every other source is translated too, through English (its en-XX
    // dictionary composed with the en-target one).
    local pivot = ext('XNER_PIVOT', 'false');
    local translator_of(s) =
      if s == 'en' || translator == null then translator
      else if pivot == 'true' then
        base.translator(dictionary, $.vectors(s), target_vectors)
        + { pivot_dictionary: data + '/dictionaries/en-' + s + '.txt' }
      else if pivot == 'false' then null
      else error ('XNER_PIVOT: expected true or false, got ' + pivot);
    if std.length(unknown) > 0 then
      error ('XNER_SOURCES: ' + std.join(', ', unknown) + ' is not a source for ' + target +
             '; sources: ' + std.join(', ', [s for s in std.objectFields($.train_files) if s != target]))
    else base.tagger(
      train=std.join(',', names),
      dev=ext('XNER_DEV', t.dev),
      test=ext('XNER_TEST', t.test),
      source_vectors=[$.vectors(s) for s in names],
      target_vectors=target_vectors,
      vector_dim=std.parseInt(ext('XNER_VECTOR_DIM', '300')),
      train_reader={
        type: 'multi_source',
        sources: {
          [s]: {
            path: $.train_files[s],
            // All three CoNLL training files are UTF-8 here (SOURCE.md, languages.json).
            reader: base.reader(
              translator=translator_of(s), extra=t.source_extra + nouns(s)
            ),
          }
          for s in names
        },
      },
      target_reader=base.reader(encoding=ext('XNER_TARGET_ENCODING', t.encoding), extra=t.target_extra),
      hp=hp,
      target_language=target,
    ),
}
