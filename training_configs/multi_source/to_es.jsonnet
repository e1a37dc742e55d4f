// en + nl -> es (zero-shot for es: its labels are never read).
local multi = import 'multi_source.libsonnet';

multi.to('es', ['en', 'nl'])
