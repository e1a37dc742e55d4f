// English -> Bengali. The paper scores PER/ORG/LOC only, so MISC is dropped on both sides.
// The Rifat file has a BOM (the reader skips it), a bare TIM tag (time, not an entity type
// here: mapped to O) and a few lines with no tag (read as O). These reader options are bn's
// source_extra / target_extra in xner_allennlp/common/languages.json.
local base = import 'base.libsonnet';

base.en_to('bn')
