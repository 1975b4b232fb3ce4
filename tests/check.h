/* A minimal test harness: CHECK records a failure with file:line and keeps going; TEST_MAIN prints the
 * "N passed, N failed" line CTest logs show. */
#ifndef CF_TEST_CHECK_H
#define CF_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_passed, check_failed;

#define CHECK(cond) \
    do { \
        if (cond) { \
            check_passed++; \
        } else { \
            check_failed++; \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
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
