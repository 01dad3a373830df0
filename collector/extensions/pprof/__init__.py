"""The pprof extension (contrib's extension/pprofextension): profiles of the daemon's Python process in the
formats `go tool pprof` reads. extension.py holds the config and the HTTP routes, sampler.py the CPU
sampler, profile.py the profile.proto encoder, stacks.py the thread dumps and the tracemalloc heap profile."""
