// en -> XNER_TARGET (default bn) with repeated letters collapsed in what the character encoder
// reads, in training and on the target (`collapse_repeated_characters`): uroman's doubled
// letters ("ddhaakaa" for Dhaka) then look like the English spelling of the same names.
local base = import '../base.libsonnet';
local lang = base.ext('XNER_TARGET', 'bn');

base.en_to(
  lang,
  source_extra={ collapse_repeated_characters: true },
  target_extra={ collapse_repeated_characters: true },
)
