/* Axis ticks for `cformer plot`: 1-2-5 steps on linear axes, decades on log axes, and labels short
 * enough for a small font. */
#include "tools/plot_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* "1.5e-05" -> "1.5e-5", "2e+06" -> "2e6": shorter labels in a small font. */
static void compact_exp(char *s)
{
    char *e = strchr(s, 'e');
    if (!e) return;
    char *src = e + 1, *dst = e + 1;
    if (*src == '+') src++;
    else if (*src == '-') *dst++ = *src++;
    while (*src == '0' && src[1]) src++;
    memmove(dst, src, strlen(src) + 1);
}

void plot_fmt_value(char *out, size_t n, double v)
{
    snprintf(out, n, "%.4g", v);
    compact_exp(out);
}

static double nice_step(double range, int target)
{
    double raw = range / target, mag = pow(10.0, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1.0 : f < 3.5 ? 2.0 : f < 7.5 ? 5.0 : 10.0) * mag;
}

/* Labels for values v[0..n): fixed-point with the decimals the tick step needs, or, for very large or very
 * small magnitudes, exponent notation with the fewest digits that keep every label distinct. */
static void label_ticks(ticks *t, const double *v, double step)
{
    double big = 0;
    for (int i = 0; i < t->n; i++) big = fmax(big, fabs(v[i]));
    int k = (int)floor(log10(step) + 1e-9);
    if (big < 1e6 && k >= -4) {
        int dec = k < 0 ? -k : 0;
        for (int i = 0; i < t->n; i++) snprintf(t->label[i], sizeof t->label[i], "%.*f", dec, v[i]);
        return;
    }
    for (int prec = 0; prec <= 12; prec++) {
        bool distinct = true;
        for (int i = 0; i < t->n; i++) {
            if (v[i] == 0) snprintf(t->label[i], sizeof t->label[i], "0");
            else snprintf(t->label[i], sizeof t->label[i], "%.*e", prec, v[i]);
            compact_exp(t->label[i]);
            for (int j = 0; j < i && distinct; j++) distinct = strcmp(t->label[i], t->label[j]) != 0;
        }
        if (distinct) return;
    }
}

/* Ticks at multiples of a 1-2-5 step inside [lo, hi]; with log_pos, positions are log10 of the values. */
void plot_linear_ticks(ticks *t, double lo, double hi, int target, bool log_pos, bool integer)
{
    t->n = 0;
    double step = nice_step(hi - lo, target), v[MAX_TICKS];
    if (integer && step < 1) step = 1; /* steps are counted: no tick at step 1.5 */
    double first = ceil(lo / step - 1e-9), last = floor(hi / step + 1e-9);
    if (!isfinite(first) || !isfinite(last) || last - first + 1 > MAX_TICKS || last < first) {
        v[0] = lo; /* a range our 1-2-5 steps cannot cover sensibly: label the ends */
        v[1] = hi;
        t->n = 2;
        step = hi - lo;
    } else {
        /* an int counter: at magnitudes past 2^53, first + 1 == first and a double loop would not end */
        for (int k = 0; k <= (int)(last - first); k++) {
            double x = (first + k) * step;
            if (fabs(x) < step * 1e-9) x = 0; /* no "-0.00" */
            v[t->n++] = x;
        }
    }
    label_ticks(t, v, step > 0 ? step : 1);
    for (int i = 0; i < t->n; i++) t->pos[i] = log_pos ? log10(v[i]) : v[i];
}

/* Log axis over [llo, lhi] (log10 units): powers of ten when it spans decades, 1-2-5 within a couple of
 * decades, and plain linear ticks placed logarithmically when it spans less than one. */
void plot_log_ticks(ticks *t, double llo, double lhi)
{
    t->n = 0;
    double decades = lhi - llo;
    if (decades < 1.0) {
        plot_linear_ticks(t, pow(10.0, llo), pow(10.0, lhi), 4, true, false);
        return;
    }
    static const double mant[] = {1, 2, 5};
    int every = decades <= 2.5 ? 0 : (int)ceil(decades / 6.0);
    for (int e = (int)floor(llo); e <= (int)ceil(lhi) && t->n < MAX_TICKS; e++) {
        for (int m = 0; m < (every ? 1 : 3) && t->n < MAX_TICKS; m++) {
            if (every && e % every != 0) continue;
            double v = mant[m] * pow(10.0, e), lv = log10(v);
            if (lv < llo - 1e-9 || lv > lhi + 1e-9) continue;
            t->pos[t->n] = lv;
            plot_fmt_value(t->label[t->n], sizeof t->label[t->n], v);
            t->n++;
        }
    }
}
