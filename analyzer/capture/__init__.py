"""Capture: a private network namespace, a kernel capture engine, kernel socket snapshots.

The only layer that needs root. `run.run_capture` is the entry point; the work
inside the namespace happens in a child process (`sandbox`), so that the
namespace, its sysctls and its firewall rules vanish with that process however
it ends.
"""
