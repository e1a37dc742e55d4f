// en -> XNER_TARGET (default de) with the target's case for adjectives: translated English
// adjectives (POS JJ, JJR, JJS) start with a lower-case letter, as German and Spanish adjectives
// of nationality do ("deutschen": MISC in CoNLL) where English writes "German"; for a target
// that capitalises its nouns (the language table's `capitalizes_nouns`), nouns as in nouns.jsonnet.
local base = import '../base.libsonnet';
local lang = base.ext('XNER_TARGET', 'de');

base.en_to(
  lang,
  source_extra={ lowercase_adjectives: true }
               + (if base.languages[lang].capitalizes_nouns then { capitalize_nouns: true } else {}),
)
