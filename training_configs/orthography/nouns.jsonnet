// en -> XNER_TARGET (default de) with the target's noun capitalisation in the training data:
// translated English common nouns (POS NN, NNS) start with a capital letter, so that the
// character encoder stops reading "capitalised" as "entity" in German text.
local base = import '../base.libsonnet';
local lang = base.ext('XNER_TARGET', 'de');
local target = base.targets[lang];

base.en_to(lang, dev=target.dev, test=target.test, encoding=target.encoding,
           source_extra=target.source_extra { capitalize_nouns: true },
           target_extra=target.target_extra)
