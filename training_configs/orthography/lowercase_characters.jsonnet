// en -> XNER_TARGET (default de) with case-blind characters: the character encoder reads every
// word lower-cased, in training and on the target, so capitalisation carries no signal.
local base = import '../base.libsonnet';
local lang = base.ext('XNER_TARGET', 'de');

base.en_to(lang, source_extra={ lowercase_characters: true }, target_extra={ lowercase_characters: true })
