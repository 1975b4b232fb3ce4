/* Dates and the "timeF" time features of data/series/csv.h. */
#include "data/series/csv.h"

#include <stdio.h>
#include <string.h>

/* days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil) */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400, yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097, doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

static bool leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int month_days(int64_t y, int64_t m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return days[m - 1] + (m == 2 && leap(y));
}

/* reads exactly n digits */
static bool digits(const char **s, int n, int64_t *v)
{
    *v = 0;
    for (int i = 0; i < n; i++, (*s)++) {
        if (**s < '0' || **s > '9') return false;
        *v = *v * 10 + (**s - '0');
    }
    return true;
}

bool cf_parse_datetime(const char *s, int64_t *stamp)
{
    int64_t y, mo, d, h = 0, mi = 0, sec = 0;
    if (!digits(&s, 4, &y)) return false;
    char sep = *s++; /* '-' or '/', the same twice */
    if ((sep != '-' && sep != '/') || !digits(&s, 2, &mo) || *s++ != sep || !digits(&s, 2, &d)) return false;
    if (*s == ' ' || *s == 'T') {
        s++;
        if (!digits(&s, 2, &h) || *s++ != ':' || !digits(&s, 2, &mi)) return false;
        if (*s == ':' && (s++, !digits(&s, 2, &sec))) return false;
    }
    if (*s || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 || mi > 59 || sec > 59) return false;
    *stamp = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    return true;
}

void cf_format_datetime(int64_t stamp, char *buf, size_t n)
{
    int64_t days = stamp >= 0 ? stamp / 86400 : -((-stamp + 86399) / 86400), secs = stamp - days * 86400, y, m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, n, "%04lld-%02lld-%02lld %02lld:%02lld:%02lld", (long long)y, (long long)m, (long long)d,
             (long long)(secs / 3600), (long long)(secs / 60 % 60), (long long)(secs % 60));
}

int cf_time_features(const char *freq)
{
    if (!freq) return -1;
    if (strcmp(freq, "t") == 0) return 5;
    if (strcmp(freq, "h") == 0) return 4;
    if (strcmp(freq, "d") == 0) return 3;
    return -1;
}

void cf_time_features_of(const char *freq, int64_t stamp, float *out)
{
    int64_t days = stamp >= 0 ? stamp / 86400 : -((-stamp + 86399) / 86400), secs = stamp - days * 86400, y, m, d;
    civil_from_days(days, &y, &m, &d);
    int64_t weekday = ((days % 7) + 7 + 3) % 7; /* 1970-01-01 was a Thursday (Monday = 0) */
    int64_t doy = days - days_from_civil(y, 1, 1) + 1;
    double f[5] = {(double)(secs / 60 % 60) / 59.0, (double)(secs / 3600) / 23.0, (double)weekday / 6.0,
                   (double)(d - 1) / 30.0, (double)(doy - 1) / 365.0};
    int n = cf_time_features(freq), skip = 5 - n;
    for (int i = 0; i < n; i++) out[i] = (float)(f[skip + i] - 0.5);
}
