// English -> Bengali. The paper scores PER/ORG/LOC only, so MISC is dropped on both sides.
// The Rifat file has a BOM (the reader skips it), a bare TIM tag (time, not an entity type
// here: mapped to O) and a few lines with no tag (read as O).
local base = import 'base.libsonnet';

base.en_to(
  'bn',
  dev=base.data + '/bengali/bn.dev.txt',
  test=base.data + '/bengali/bn.test.txt',
  encoding='utf-8',
  source_extra={ drop_tag_types: ['MISC'] },
  target_extra={ drop_tag_types: ['MISC'], tag_map: { TIM: 'O' }, empty_tag: 'O' },
)
