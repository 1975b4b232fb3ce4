/* A minimal test harness: CHECK records a failure with file:line and keeps going; TEST_MAIN prints the
 * "N passed, N failed" line CTest logs show. */
#ifndef CF_TEST_CHECK_H
#define CF_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_passed, check_failed;

/* A test that mostly checks error paths may define CHECK_SHOW_LAST_ERROR before including this, so that a
 * failed CHECK also shows cf_last_error(). */
#ifdef CHECK_SHOW_LAST_ERROR
#define CHECK_LAST_ERROR_() fprintf(stderr, "  [last error: %s]", cf_last_error())
#else
#define CHECK_LAST_ERROR_() ((void)0)
#endif

/* CHECK(cond) prints the condition when it fails; CHECK(cond, fmt, ...) prints the printf-style message
 * instead. The two are told apart by counting arguments (up to 32), since C11 has no __VA_OPT__. The text
 * is taken before CHECK's arguments are macro-expanded, so a failure shows the condition as written. */
#define CHECK(...) \
    CHECK_PICK_(__VA_ARGS__, CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, \
                CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, \
                CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, \
                CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, \
                CHECK_COND_, CHECK_NONE_)(#__VA_ARGS__, __VA_ARGS__)
#define CHECK_PICK_(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, \
                    a22, a23, a24, a25, a26, a27, a28, a29, a30, a31, a32, name, ...) \
    name

#define CHECK_COND_(text, cond) \
    do { \
        if (cond) { \
            check_passed++; \
        } else { \
            check_failed++; \
            fprintf(stderr, "%s:%d: CHECK failed: %s", __FILE__, __LINE__, text); \
            CHECK_LAST_ERROR_(); \
            fprintf(stderr, "\n"); \
        } \
    } while (0)

#define CHECK_MSG_(text, cond, ...) \
    do { \
        if (cond) { \
            check_passed++; \
        } else { \
            check_failed++; \
            fprintf(stderr, "%s:%d: CHECK failed: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__); \
            CHECK_LAST_ERROR_(); \
            fprintf(stderr, "\n"); \
        } \
    } while (0)

#define CHECK_NEAR(a, b, tol) \
    do { \
        double check_a_ = (a), check_b_ = (b); \
        if (fabs(check_a_ - check_b_) <= (tol)) { \
            check_passed++; \
        } else { \
            check_failed++; \
            fprintf(stderr, "%s:%d: %s = %.10g, expected %.10g (tol %g)\n", __FILE__, __LINE__, #a, check_a_, \
                    check_b_, (double)(tol)); \
        } \
    } while (0)

/* The last error message contains every given fragment. */
#define CHECK_ERROR_HAS(frag) \
    do { \
        const char *check_msg_ = cf_last_error(); \
        if (strstr(check_msg_, (frag))) { \
            check_passed++; \
        } else { \
            check_failed++; \
            fprintf(stderr, "%s:%d: error message \"%s\" lacks \"%s\"\n", __FILE__, __LINE__, check_msg_, (frag)); \
        } \
    } while (0)

#define RUN(test) \
    do { \
        int before_ = check_failed; \
        test(); \
        printf("%-40s %s\n", #test, check_failed == before_ ? "ok" : "FAILED"); \
    } while (0)

#define TEST_MAIN_END() \
    do { \
        printf("%d passed, %d failed\n", check_passed, check_failed); \
        return check_failed ? 1 : 0; \
    } while (0)

#endif
