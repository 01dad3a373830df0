"""Coverage-guided fuzzing of the C walks (collector/wire/_walks.c, collector/wire/_otlp_json.c) with atheris
(libFuzzer), the extensions built under ASan and UBSan.

    fuzz_<name>.py  one harness per C entry point of collector.wire.native: feeds the fuzzer's bytes to
                    the C function and, where a Python reference walk exists, checks that both agree
    _harness.py     what every harness shares: the sanitized extensions loaded in place of the built ones,
                    exact-size buffers, the atheris entry point
    build.py        compiles the two extensions with -fsanitize=address,undefined (and fuzzer-no-link
                    under clang, for libFuzzer's coverage counters) into build/fuzz/
    run.py          builds, then runs each harness for a bounded time with the sanitizer runtime
                    preloaded; exits non-zero on any crash, leak of an exception or disagreement
    seeds.py        writes the committed seed corpus (corpus/<target>/) from the load generator's requests
                    and the GenAI fixtures
    mutate.py       structure-aware mutations of whole OTLP requests and bodies, for the black-box fuzz
                    test of the daemon (tests/integration/test_fuzz_blackbox.py)

`make fuzz` (FUZZ_SECONDS per target, 600 by default) and `make fuzz-ci` (60 s each, in .ci/run) run it;
docs/contributing.md ("Fuzzing") says how to reproduce a crash. tests/wire/test_fuzz_corpus.py replays the
committed corpus through every harness in the ordinary test run, without sanitizers.
"""
