/* Trace files (JSON Lines), the per-use step draw and the answer parser of traces.h. */
#include "data/traces/traces.h"

#include "autograd/fileio.h"
#include "autograd/json.h"
#include "autograd/json_read.h"
#include "autograd/rng.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void trace_clear(cf_trace *t)
{
    free(t->problem);
    for (int j = 0; j < t->n_steps; j++) free(t->steps[j]);
    free(t->steps);
    free(t->answer);
}

void cf_traces_free(cf_trace_set *s)
{
    if (!s) return;
    for (int64_t i = 0; i < s->n; i++) trace_clear(&s->items[i]);
    free(s->items);
    free(s);
}

/* A string field: present, a string, without newlines, non-empty when required. */
static char *field(const cf_jv *obj, const char *key, bool nonempty, const char *path, int64_t line)
{
    const cf_jv *v = cf_json_get(obj, key);
    const char *why = !v ? "missing" : v->type != CF_JSON_STRING ? "not a string"
                      : memchr(v->s, '\n', v->len) || memchr(v->s, '\r', v->len) ? "holds a newline"
                      : strlen(v->s) != v->len ? "holds a NUL character"
                      : nonempty && v->len == 0 ? "is empty" : NULL;
    if (why) {
        cf_set_error(CF_ERR_FORMAT, "%s:%" PRId64 ": \"%s\" %s", path, line, key, why);
        return NULL;
    }
    char *s = strdup(v->s);
    if (!s) cf_set_error(CF_ERR_OOM, "%s:%" PRId64 ": out of memory", path, line);
    return s;
}

static cf_status parse_line(const char *text, size_t n, const char *path, int64_t line, cf_trace *t)
{
    char what[1100];
    snprintf(what, sizeof what, "%.1000s:%" PRId64, path, line);
    cf_json_doc *d = cf_json_parse(text, n, what);
    if (!d) return cf_last_status();
    const cf_jv *o = cf_json_root(d);
    cf_status st = CF_OK;
    memset(t, 0, sizeof *t);
    t->line = line;
    if (o->type != CF_JSON_OBJECT) {
        st = cf_set_error(CF_ERR_FORMAT, "%s: expected an object {\"problem\", \"steps\", \"answer\"}", what);
    } else if (!(t->problem = field(o, "problem", true, path, line)) || !(t->answer = field(o, "answer", true, path, line))) {
        st = cf_last_status();
    } else {
        const cf_jv *steps = cf_json_get(o, "steps");
        if (!steps || steps->type != CF_JSON_ARRAY) {
            st = cf_set_error(CF_ERR_FORMAT, "%s: \"steps\" %s", what, steps ? "is not an array of strings" : "missing");
        } else if (steps->n > CF_TRACE_MAX_STEPS) {
            st = cf_set_error(CF_ERR_FORMAT, "%s: %d steps (at most %d)", what, steps->n, CF_TRACE_MAX_STEPS);
        } else if (steps->n > 0 && !(t->steps = calloc((size_t)steps->n, sizeof *t->steps))) {
            st = cf_set_error(CF_ERR_OOM, "%s: out of memory", what);
        }
        for (int j = 0; st == CF_OK && steps && j < steps->n; j++) {
            char key[32];
            snprintf(key, sizeof key, "steps[%d]", j);
            const cf_jv *v = &steps->items[j];
            const char *why = v->type != CF_JSON_STRING ? "is not a string"
                              : memchr(v->s, '\n', v->len) || memchr(v->s, '\r', v->len) ? "holds a newline"
                              : strlen(v->s) != v->len ? "holds a NUL character" : v->len == 0 ? "is empty" : NULL;
            if (why) st = cf_set_error(CF_ERR_FORMAT, "%s: \"%s\" %s", what, key, why);
            else if (!(t->steps[j] = strdup(v->s))) st = cf_set_error(CF_ERR_OOM, "%s: out of memory", what);
            else t->n_steps = j + 1;
        }
    }
    cf_json_doc_free(d);
    if (st != CF_OK) trace_clear(t);
    return st;
}

cf_trace_set *cf_traces_read(const char *path, int64_t max_records)
{
    if (!path) {
        cf_set_error(CF_ERR_ARG, "cf_traces_read: NULL path");
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        cf_set_error(CF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    cf_trace_set *s = calloc(1, sizeof *s);
    char *buf = malloc(CF_TRACE_MAX_LINE + 2);
    int64_t cap = 0, line = 0;
    cf_status st = s && buf ? CF_OK : cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
    while (st == CF_OK && fgets(buf, CF_TRACE_MAX_LINE + 2, f)) {
        line++;
        size_t n = strlen(buf);
        if (n > CF_TRACE_MAX_LINE || (n == CF_TRACE_MAX_LINE + 1 && buf[n - 1] != '\n')) {
            st = cf_set_error(CF_ERR_FORMAT, "%s:%" PRId64 ": longer than %d bytes", path, line, CF_TRACE_MAX_LINE);
            break;
        }
        size_t k = n;
        while (k > 0 && (buf[k - 1] == '\n' || buf[k - 1] == '\r' || buf[k - 1] == ' ' || buf[k - 1] == '\t')) k--;
        if (k == 0) continue;
        if (max_records > 0 && s->n >= max_records) {
            st = cf_set_error(CF_ERR_FORMAT, "%s:%" PRId64 ": more than %" PRId64 " records (data.max_records)", path, line,
                              max_records);
            break;
        }
        if (s->n == cap) {
            int64_t nc = cap ? 2 * cap : 256;
            cf_trace *items = realloc(s->items, (size_t)nc * sizeof *items);
            if (!items) {
                st = cf_set_error(CF_ERR_OOM, "%s: out of memory at line %" PRId64, path, line);
                break;
            }
            s->items = items, cap = nc;
        }
        if ((st = parse_line(buf, k, path, line, &s->items[s->n])) == CF_OK) s->n++;
    }
    if (st == CF_OK && ferror(f)) st = cf_set_error(CF_ERR_IO, "%s: read error", path);
    if (st == CF_OK && s->n == 0) st = cf_set_error(CF_ERR_FORMAT, "%s: no traces (an empty file)", path);
    fclose(f);
    free(buf);
    if (st != CF_OK) {
        cf_traces_free(s);
        return NULL;
    }
    return s;
}

cf_status cf_traces_write(const char *path, const cf_trace_set *s)
{
    if (!path || !s) return cf_set_error(CF_ERR_ARG, "cf_traces_write: NULL path or set");
    cf_atomic_file *af = cf_atomic_open(path);
    if (!af) return cf_last_status();
    FILE *f = cf_atomic_stream(af);
    bool ok = true;
    for (int64_t i = 0; ok && i < s->n; i++) {
        const cf_trace *t = &s->items[i];
        cf_json j;
        cf_json_init(&j, f);
        cf_json_object(&j);
        cf_json_kv_string(&j, "problem", t->problem);
        cf_json_key(&j, "steps");
        cf_json_array(&j);
        for (int k = 0; k < t->n_steps; k++) cf_json_string(&j, t->steps[k]);
        cf_json_end(&j);
        cf_json_kv_string(&j, "answer", t->answer);
        cf_json_end(&j);
        ok = cf_json_ok(&j) && fputc('\n', f) != EOF;
    }
    if (!ok) {
        cf_atomic_abort(af);
        return cf_set_error(CF_ERR_IO, "%s: write failed", path);
    }
    return cf_atomic_commit(af);
}

int cf_trace_draw(const cf_trace *t, double p, uint64_t seed, int64_t record, int64_t use, bool *keep)
{
    cf_philox_key key = cf_rng_key(seed, (uint64_t)record);
    int kept = 0;
    for (int j = 0; j < t->n_steps; j++) {
        keep[j] = !(p > 0 && (p >= 1 || cf_rng_uniform(key, (uint64_t)use, (uint64_t)j) < p));
        kept += keep[j];
    }
    return kept;
}

bool cf_trace_parse_answer(const char *r, size_t n, char *out, size_t cap)
{
    static const char mark[] = "Answer: ";
    const size_t m = sizeof mark - 1;
    const char *at = NULL;
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(r + i, mark, m) == 0) at = r + i + m;
    if (!at || cap == 0) return false;
    const char *end = r + n, *nl = memchr(at, '\n', (size_t)(end - at));
    if (nl) end = nl;
    while (at < end && *at == ' ') at++;
    while (end > at && (end[-1] == ' ' || end[-1] == '\r')) end--;
    size_t k = (size_t)(end - at) < cap - 1 ? (size_t)(end - at) : cap - 1;
    memcpy(out, at, k);
    out[k] = 0;
    return true;
}

bool cf_trace_template_ok(const char *tmpl, const char *what)
{
    const char *at = tmpl ? strstr(tmpl, "{problem}") : NULL;
    if (!at || strstr(at + 1, "{problem}")) {
        cf_set_error(CF_ERR_ARG, "%s: the prompt template must hold {problem} exactly once, got \"%.200s\"", what,
                     tmpl ? tmpl : "(none)");
        return false;
    }
    return true;
}

char *cf_trace_render_prompt(const char *tmpl, const char *problem)
{
    const char *at = strstr(tmpl, "{problem}");
    size_t head = at ? (size_t)(at - tmpl) : strlen(tmpl), pl = at ? strlen(problem) : 0;
    const char *tail = at ? at + strlen("{problem}") : "";
    size_t n = head + pl + strlen(tail);
    char *out = malloc(n + 1);
    if (!out) {
        cf_set_error(CF_ERR_OOM, "trace prompt: out of memory");
        return NULL;
    }
    memcpy(out, tmpl, head);
    memcpy(out + head, problem, pl);
    memcpy(out + head + pl, tail, strlen(tail) + 1);
    return out;
}
