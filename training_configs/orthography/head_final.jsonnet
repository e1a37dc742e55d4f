// en -> XNER_TARGET (default bn) with the English training sentences in a head-final word order
// (`head_final_order`, by the chunk column of the CoNLL-2003 files): prepositions after their
// noun phrase, verbs after their objects, as Bengali writes them.
local base = import '../base.libsonnet';
local lang = base.ext('XNER_TARGET', 'bn');

base.en_to(lang, source_extra={ head_final_order: true })
