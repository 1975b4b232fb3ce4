/* The pre-split scanners of presplit.h. Each alternative of a pattern is a small function over code points
 * returning the match length in bytes (0: no match), tried in the pattern's order. */
#include "data/text/presplit.h"

#include <stdbool.h>

typedef struct {
    uint32_t first, last;
    unsigned char cls;
} uc_range;

static const uc_range ranges[] = {
#include "data/text/unicode_classes.inc"
};

cf_uclass cf_unicode_class(uint32_t cp)
{
    size_t lo = 0, hi = sizeof ranges / sizeof *ranges;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < ranges[mid].first) hi = mid;
        else if (cp > ranges[mid].last) lo = mid + 1;
        else return (cf_uclass)ranges[mid].cls;
    }
    return CF_UC_OTHER;
}

size_t cf_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
    uint8_t c = s[0];
    size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 1) return *cp = c, 1;
    if (len == 0 || len > n) return *cp = 0xFFFFFFFFu, 1;
    uint32_t v = c & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return *cp = 0xFFFFFFFFu, 1;
        v = v << 6 | (s[i] & 0x3F);
    }
    static const uint32_t min_of[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min_of[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return *cp = 0xFFFFFFFFu, 1; /* overlong, surrogate */
    *cp = v;
    return len;
}

/* The text being split, read one code point at a time. */
typedef struct {
    const uint8_t *s;
    size_t n;
} text;

/* The class of the character at byte i (CF_UC_OTHER past the end is never asked: callers check i < n) and
 * its length. */
static cf_uclass cls_at(text t, size_t i, size_t *len, uint32_t *cp_out)
{
    uint32_t cp;
    *len = cf_utf8_decode(t.s + i, t.n - i, &cp);
    if (cp_out) *cp_out = cp;
    return cp == 0xFFFFFFFFu ? CF_UC_OTHER : cf_unicode_class(cp);
}

/* The end of the run of characters of class c starting at byte i, at most max characters. */
static size_t run_end(text t, size_t i, cf_uclass c, size_t max)
{
    size_t len, count = 0;
    while (i < t.n && count < max && cls_at(t, i, &len, NULL) == c) i += len, count++;
    return i;
}

static bool is_crlf(uint8_t b) { return b == '\r' || b == '\n'; }

/* 's|'t|'re|'ve|'m|'ll|'d, ASCII case-insensitive when fold */
static size_t contraction(text t, bool fold)
{
    static const char *const tails[] = {"s", "t", "re", "ve", "m", "ll", "d"};
    if (t.s[0] != '\'') return 0;
    for (int k = 0; k < 7; k++) {
        size_t m = 0;
        while (tails[k][m] && 1 + m < t.n) {
            uint8_t c = t.s[1 + m];
            if (fold && c >= 'A' && c <= 'Z') c = (uint8_t)(c - 'A' + 'a');
            if (c != (uint8_t)tails[k][m]) break;
            m++;
        }
        if (!tails[k][m]) return 1 + m;
    }
    return 0;
}

/* " ?X+" for class X: an optional space, then a run of X; `then_crlf` adds Llama 3's [\r\n]* */
static size_t space_run(text t, cf_uclass want, bool then_crlf)
{
    size_t len, st = 0;
    if (t.s[0] == ' ' && t.n > 1 && cls_at(t, 1, &len, NULL) == want) st = 1;
    if (cls_at(t, st, &len, NULL) != want) return 0;
    size_t end = run_end(t, st, want, SIZE_MAX);
    if (then_crlf)
        while (end < t.n && is_crlf(t.s[end])) end++;
    return end;
}

/* \s+(?!\S)|\s+ : a whitespace run, leaving its last character to a following non-space */
static size_t spaces(text t)
{
    size_t len;
    if (cls_at(t, 0, &len, NULL) != CF_UC_SPACE) return 0;
    size_t i = 0, last = 0, count = 0;
    while (i < t.n && cls_at(t, i, &len, NULL) == CF_UC_SPACE) last = i, i += len, count++;
    if (i < t.n && count > 1) return last; /* followed by \S: give it the last space */
    return i;
}

/* \s*[\r\n]+ : the whitespace run up to and including its last \r or \n */
static size_t spaces_to_newline(text t)
{
    size_t len, i = 0, end = 0;
    while (i < t.n && cls_at(t, i, &len, NULL) == CF_UC_SPACE) {
        i += len;
        if (is_crlf(t.s[i - 1])) end = i;
    }
    return end;
}

static size_t gpt2(text t)
{
    size_t m;
    if ((m = contraction(t, false))) return m;
    if ((m = space_run(t, CF_UC_LETTER, false))) return m;
    if ((m = space_run(t, CF_UC_NUMBER, false))) return m;
    if ((m = space_run(t, CF_UC_OTHER, false))) return m;
    return spaces(t);
}

static size_t llama3(text t)
{
    size_t m, len, len2;
    if ((m = contraction(t, true))) return m;
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    cf_uclass c0 = cls_at(t, 0, &len, NULL);
    if (c0 == CF_UC_LETTER) return run_end(t, 0, CF_UC_LETTER, SIZE_MAX);
    if (c0 != CF_UC_NUMBER && !is_crlf(t.s[0]) && len < t.n && cls_at(t, len, &len2, NULL) == CF_UC_LETTER)
        return run_end(t, len, CF_UC_LETTER, SIZE_MAX);
    /* \p{N}{1,3} */
    if (c0 == CF_UC_NUMBER) return run_end(t, 0, CF_UC_NUMBER, 3);
    if ((m = space_run(t, CF_UC_OTHER, true))) return m;
    if ((m = spaces_to_newline(t))) return m;
    return spaces(t);
}

const char *cf_presplit_pattern(cf_presplit kind)
{
    return kind == CF_PRESPLIT_GPT2
               ? "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
               : "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
                 "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
}

size_t cf_presplit_len(cf_presplit kind, const uint8_t *s, size_t n)
{
    if (n == 0) return 0;
    text t = {s, n};
    size_t m = kind == CF_PRESPLIT_GPT2 ? gpt2(t) : llama3(t);
    if (m == 0) { /* unreachable: the last alternatives match any character; keep the tiling total */
        size_t len;
        cls_at(t, 0, &len, NULL);
        m = len;
    }
    return m;
}
