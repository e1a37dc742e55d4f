// en + es -> nl (zero-shot for nl: its labels are never read).
local multi = import 'multi_source.libsonnet';

multi.to('nl', ['en', 'es'])
