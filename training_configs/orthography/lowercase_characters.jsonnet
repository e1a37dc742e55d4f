// en -> XNER_TARGET (default de) with case-blind characters: the character encoder reads every
// word lower-cased, in training and on the target, so capitalisation carries no signal.
local base = import '../base.libsonnet';
local lang = base.ext('XNER_TARGET', 'de');
local target = base.targets[lang];

base.en_to(lang, dev=target.dev, test=target.test, encoding=target.encoding,
           source_extra=target.source_extra { lowercase_characters: true },
           target_extra=target.target_extra { lowercase_characters: true })
