"""How many CPUs this process can use right now (no torch import here)."""

import os


def cpus_available() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def idle_cpus(own_threads: int = 1) -> int:
    """
    The CPUs not busy with other processes: `cpus_available()` less the 1-minute load average
    that is not this process's own (`own_threads` busy threads), at least one.
    """
    cpus = cpus_available()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - not Unix
        return cpus
    others = max(0.0, load - own_threads)
    return max(1, min(cpus, int(cpus - others + 0.5)))
