/* What the two cuda test executables share: built without CUDA, one test that says so and
 * skips (the executable exits 77); with it, the reason no test can run (no usable device),
 * which each test prints before skipping (cmocka's skip()), so that ctest counts them skipped
 * and their output (ctest -V, or running one) says why. Include after cmocka.h. */
#ifndef EPARA_TESTS_CUDA_SKIP_H
#define EPARA_TESTS_CUDA_SKIP_H

#ifndef EPARA_HAVE_CUDA
static void
test_the_cuda_engine_is_built(void **state)
{
    (void)state;
    print_message("skipped: this build has no cuda engine (built without CUDA: no CUDA "
                  "compiler and toolkit found when CMake configured, or -DEPARA_CUDA=OFF)\n");
    skip();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_the_cuda_engine_is_built)};
    return cmocka_run_group_tests(tests, NULL, NULL) ? 1 : 77;
}
#else
/* Set when no test can run: each test then says why and skips. */
static char skip_why[512];

static void
needs_device(void)
{
    if (skip_why[0]) {
        print_message("skipped: %s\n", skip_why);
        skip();
    }
}
#endif

#endif
