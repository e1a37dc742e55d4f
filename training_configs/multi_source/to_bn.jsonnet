// en + es + nl -> bn (zero-shot for bn: its labels are never read).
local multi = import 'multi_source.libsonnet';

multi.to('bn', ['en', 'es', 'nl'])
