// en -> XNER_TARGET (default de) with the target's noun capitalisation in the training data:
// translated English common nouns (POS NN, NNS) start with a capital letter, so that the
// character encoder stops reading "capitalised" as "entity" in German text.
local base = import '../base.libsonnet';
local lang = base.ext('XNER_TARGET', 'de');

base.en_to(lang, source_extra={ capitalize_nouns: true })
