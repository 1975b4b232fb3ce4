/* The ranged getters (recipe.h, "ranged getters"): the plain getters, then a range check whose failure is
 * the recipe's sticky error located at the key. */
#include "recipes/recipe/recipe_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* A bound for messages: integers exactly (a power of two from 2^16 up as "2^k"), floats in %g ("inf" for
 * infinity). */
static void bound_text(double v, bool is_int, int64_t iv, char *buf, size_t n)
{
    if (is_int && iv >= 65536 && (iv & (iv - 1)) == 0)
        snprintf(buf, n, "2^%d", __builtin_ctzll((unsigned long long)iv));
    else if (is_int)
        snprintf(buf, n, "%" PRId64, iv);
    else if (isinf(v))
        snprintf(buf, n, "%sinf", v < 0 ? "-" : "");
    else
        snprintf(buf, n, "%.10g", v);
}

typedef struct range {
    double lo, hi;      /* as doubles, for floats and for cf_recipe_range */
    int64_t ilo, ihi;   /* exact, for integers */
    bool is_int;
    cf_range_bounds b;
} range;

/* Writes the interval, or the one side that bounds it ("> 0"); returns whether it is one-sided. */
static bool interval_text(char *buf, size_t n, const char *lo, const char *hi, bool lo_inf, bool hi_inf, cf_range_bounds b)
{
    if (hi_inf != lo_inf) {
        snprintf(buf, n, "%s %s", hi_inf ? (b & CF_RANGE_OPEN_LO ? ">" : ">=") : (b & CF_RANGE_OPEN_HI ? "<" : "<="),
                 hi_inf ? lo : hi);
        return true;
    }
    snprintf(buf, n, "%s%s, %s%s", b & CF_RANGE_OPEN_LO ? "(" : "[", lo, hi, b & CF_RANGE_OPEN_HI ? ")" : "]");
    return false;
}

bool cf_range_text(char *buf, size_t n, double lo, double hi, cf_range_bounds b)
{
    char l[64], h[64];
    bound_text(lo, false, 0, l, sizeof l);
    bound_text(hi, false, 0, h, sizeof h);
    return interval_text(buf, n, l, h, isinf(lo), isinf(hi), b);
}

bool cf_range_text_int(char *buf, size_t n, int64_t lo, int64_t hi)
{
    char l[64], h[64];
    bound_text(0, true, lo, l, sizeof l);
    bound_text(0, true, hi, h, sizeof h);
    return interval_text(buf, n, l, h, lo == INT64_MIN, hi == INT64_MAX, CF_RANGE_CLOSED);
}

bool cf_range_holds(double v, double lo, double hi, cf_range_bounds b)
{
    if (isnan(v) || isnan(lo) || isnan(hi)) return false;
    if (isinf(v)) return v < 0 ? lo == -INFINITY && !(b & CF_RANGE_OPEN_LO) : hi == INFINITY && !(b & CF_RANGE_OPEN_HI);
    return (b & CF_RANGE_OPEN_LO ? v > lo : v >= lo) && (b & CF_RANGE_OPEN_HI ? v < hi : v <= hi);
}

/* "is out of range [lo, hi]", or one-sided "is out of range: must be >= lo". */
static void range_text(const range *g, char *buf, size_t n)
{
    char t[160];
    bool one = g->is_int ? cf_range_text_int(t, sizeof t, g->ilo, g->ihi) : cf_range_text(t, sizeof t, g->lo, g->hi, g->b);
    snprintf(buf, n, "is out of range%s%s", one ? ": must be " : " ", t);
}

static bool in_range(const range *g, int64_t iv, double fv)
{
    return g->is_int ? iv >= g->ilo && iv <= g->ihi : cf_range_holds(fv, g->lo, g->hi, g->b);
}

/* Whether the read just done by a plain getter succeeded (a failed one has already set the sticky error). */
static rdecl *read_ok(const cf_recipe *r, const char *key)
{
    rdecl *d = r && key ? cf_recipe_find_decl(r, key) : NULL;
    return d && d->has_value ? d : NULL;
}

static void remember(rdecl *d, const range *g)
{
    d->ranged = true;
    d->bounds = g->b;
    d->lo = g->is_int ? (double)g->ilo : g->lo;
    d->hi = g->is_int ? (double)g->ihi : g->hi;
}

/* Records the out-of-range error for the value (item >= 0: a list item) and marks the read as failed. */
static void out_of_range(cf_recipe *r, rdecl *d, const char *key, int item, const range *g, int64_t iv, double fv)
{
    const rentry *e = cf_recipe_find(r, key);
    char shown[160], why[192];
    if (e && e->v.kind == RV_SCALAR && item <= 0)
        snprintf(shown, sizeof shown, "%s", e->v.s.text);
    else if (e && e->v.kind == RV_LIST && item >= 0 && item < e->v.n)
        snprintf(shown, sizeof shown, "%s", e->v.items[item].text);
    else if (g->is_int)
        snprintf(shown, sizeof shown, "%" PRId64 " (the default)", iv);
    else
        snprintf(shown, sizeof shown, "%.10g (the default)", fv);
    range_text(g, why, sizeof why);
    char loc[512];
    cf_recipe_where_text(r, e, loc, sizeof loc);
    if (item >= 0)
        cf_recipe_stick(r, CF_ERR_ARG, "%s: %s[%d]: %s %s", loc, key, item, shown, why);
    else
        cf_recipe_stick(r, CF_ERR_ARG, "%s: %s: %s %s", loc, key, shown, why);
    d->has_value = false;
}

static bool bad_range(cf_recipe *r, const char *key, const range *g)
{
    if (g->is_int ? g->ilo <= g->ihi : g->lo <= g->hi) return false;
    if (r) cf_recipe_fail(r, key, CF_ERR_ARG, "the program asks for an empty range (a bug)");
    return true;
}

int64_t cf_recipe_int_in(cf_recipe *r, const char *key, int64_t dflt, int64_t lo, int64_t hi)
{
    range g = {.lo = (double)lo, .hi = (double)hi, .ilo = lo, .ihi = hi, .is_int = true};
    int64_t v = cf_recipe_int(r, key, dflt);
    rdecl *d = read_ok(r, key);
    if (!d || bad_range(r, key, &g)) return dflt;
    remember(d, &g);
    if (in_range(&g, v, 0)) return v;
    out_of_range(r, d, key, -1, &g, v, 0);
    return dflt;
}

double cf_recipe_float_in(cf_recipe *r, const char *key, double dflt, double lo, double hi, cf_range_bounds b)
{
    range g = {.lo = lo, .hi = hi, .b = b};
    double v = cf_recipe_float(r, key, dflt);
    rdecl *d = read_ok(r, key);
    if (!d || isnan(lo) || isnan(hi) || bad_range(r, key, &g)) return dflt;
    remember(d, &g);
    if (in_range(&g, 0, v)) return v;
    out_of_range(r, d, key, -1, &g, 0, v);
    return dflt;
}

int cf_recipe_int_list_in(cf_recipe *r, const char *key, int64_t *out, int max, const int64_t *dflt, int ndflt,
                          int64_t lo, int64_t hi)
{
    range g = {.lo = (double)lo, .hi = (double)hi, .ilo = lo, .ihi = hi, .is_int = true};
    int n = cf_recipe_int_list(r, key, out, max, dflt, ndflt);
    rdecl *d = read_ok(r, key);
    if (n < 0 || !d || bad_range(r, key, &g)) return -1;
    remember(d, &g);
    for (int i = 0; i < n; i++)
        if (!in_range(&g, out[i], 0)) {
            out_of_range(r, d, key, i, &g, out[i], 0);
            return -1;
        }
    return n;
}

int cf_recipe_float_list_in(cf_recipe *r, const char *key, double *out, int max, const double *dflt, int ndflt,
                            double lo, double hi)
{
    range g = {.lo = lo, .hi = hi};
    int n = cf_recipe_float_list(r, key, out, max, dflt, ndflt);
    rdecl *d = read_ok(r, key);
    if (n < 0 || !d || isnan(lo) || isnan(hi) || bad_range(r, key, &g)) return -1;
    remember(d, &g);
    for (int i = 0; i < n; i++)
        if (!in_range(&g, 0, out[i])) {
            out_of_range(r, d, key, i, &g, 0, out[i]);
            return -1;
        }
    return n;
}

bool cf_recipe_range(const cf_recipe *r, const char *key, double *lo, double *hi, cf_range_bounds *b)
{
    const rdecl *d = r && key ? cf_recipe_find_decl(r, key) : NULL;
    if (!d || !d->ranged) return false;
    if (lo) *lo = d->lo;
    if (hi) *hi = d->hi;
    if (b) *b = d->bounds;
    return true;
}
