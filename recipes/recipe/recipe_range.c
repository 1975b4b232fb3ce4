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

static bool lo_unbounded(const range *g) { return g->is_int ? g->ilo == INT64_MIN : g->lo == -INFINITY && !(g->b & CF_RANGE_OPEN_LO); }
static bool hi_unbounded(const range *g) { return g->is_int ? g->ihi == INT64_MAX : g->hi == INFINITY && !(g->b & CF_RANGE_OPEN_HI); }

/* "is out of range [lo, hi]", or one-sided "is out of range: must be >= lo" when the other side is open to
 * infinity (or INT64_MIN / INT64_MAX for integers). */
static void range_text(const range *g, char *buf, size_t n)
{
    char lo[64], hi[64];
    bound_text(g->lo, g->is_int, g->ilo, lo, sizeof lo);
    bound_text(g->hi, g->is_int, g->ihi, hi, sizeof hi);
    bool lo_inf = g->is_int ? g->ilo == INT64_MIN : isinf(g->lo), hi_inf = g->is_int ? g->ihi == INT64_MAX : isinf(g->hi);
    if (hi_inf && !lo_inf)
        snprintf(buf, n, "is out of range: must be %s %s", g->b & CF_RANGE_OPEN_LO ? ">" : ">=", lo);
    else if (lo_inf && !hi_inf)
        snprintf(buf, n, "is out of range: must be %s %s", g->b & CF_RANGE_OPEN_HI ? "<" : "<=", hi);
    else
        snprintf(buf, n, "is out of range %s%s, %s%s", g->b & CF_RANGE_OPEN_LO ? "(" : "[", lo, hi,
                 g->b & CF_RANGE_OPEN_HI ? ")" : "]");
}

static bool in_float(const range *g, double v)
{
    if (isnan(v)) return false;
    if (isinf(v)) return v < 0 ? lo_unbounded(g) : hi_unbounded(g);
    return (g->b & CF_RANGE_OPEN_LO ? v > g->lo : v >= g->lo) && (g->b & CF_RANGE_OPEN_HI ? v < g->hi : v <= g->hi);
}

static bool in_range(const range *g, int64_t iv, double fv)
{
    return g->is_int ? iv >= g->ilo && iv <= g->ihi : in_float(g, fv);
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
