// en + es + nl -> de (zero-shot for de: its labels are never read).
local multi = import 'multi_source.libsonnet';

multi.to('de', ['en', 'es', 'nl'])
