/* The seeded generator of traces.h: word problems (a quantity changed by a chain of operations, one or two
 * exact steps each) and linear equations (isolate the term, then divide). Problem i draws from its own
 * Philox stream, so the set is the same for any n prefix and on any machine. */
#include "data/traces/traces.h"

#include "autograd/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cf_trace_gen_config cf_trace_gen_defaults(void)
{
    return (cf_trace_gen_config){.seed = 0, .n = 1000, .min_ops = 2, .max_ops = 5, .algebra = 0.25};
}

typedef struct {
    cf_philox_key key;
    uint64_t draw;
} stream;

static double uni(stream *s) { return cf_rng_uniform(s->key, 0, s->draw++); }
static int between(stream *s, int lo, int hi) { return lo + (int)(uni(s) * (hi - lo + 1)); }

typedef struct {
    char problem[1024];
    char steps[2 * 8 + 2][128];
    int n_steps;
    char answer[32];
} draft;

static void say(draft *d, const char *fmt, long a, long b, long c)
{
    size_t k = strlen(d->problem);
    snprintf(d->problem + k, sizeof d->problem - k, fmt, a, b, c);
}

static void step(draft *d, const char *fmt, long a, long b, long c)
{
    snprintf(d->steps[d->n_steps++], sizeof d->steps[0], fmt, a, b, c);
}

static void word_problem(stream *s, const cf_trace_gen_config *c, draft *d)
{
    static const char *const names[] = {"Ann", "Ben", "Cara", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun"};
    static const char *const things[] = {"apples", "pens", "coins", "books", "marbles", "stamps", "shells", "cards"};
    const char *name = names[between(s, 0, 9)], *thing = things[between(s, 0, 7)];
    long cur = between(s, 5, 40);
    snprintf(d->problem, sizeof d->problem, "%s has %ld %s.", name, cur, thing);
    int ops = between(s, c->min_ops, c->max_ops);
    for (int o = 0; o < ops; o++) {
        int kind = between(s, 0, 4);
        if (kind == 3 && cur > 200) kind = 2;               /* keep the numbers small */
        if (kind == 2 && cur < 2) kind = 1;
        long d2 = 0;
        if (kind == 4) {
            for (long q = 2; q <= 5 && !d2; q++) d2 = cur % q == 0 && cur > 0 ? q : 0;
            if (!d2) kind = 1;
        }
        long m, q, g, next;
        switch (kind) {
        case 0:
            m = between(s, 2, 6), q = between(s, 2, 9), next = cur + m * q;
            say(d, " They buy %ld boxes of %ld more.", m, q, 0);
            step(d, "%ld * %ld = %ld", m, q, m * q);
            step(d, "%ld + %ld = %ld", cur, m * q, next);
            break;
        case 1:
            g = between(s, 1, 20), next = cur + g;
            say(d, " They find %ld more.", g, 0, 0);
            step(d, "%ld + %ld = %ld", cur, g, next);
            break;
        case 2:
            g = between(s, 1, (int)(cur - 1)), next = cur - g;
            say(d, " They give %ld away.", g, 0, 0);
            step(d, "%ld - %ld = %ld", cur, g, next);
            break;
        case 3:
            next = cur * 2;
            say(d, " Then the number doubles.", 0, 0, 0);
            step(d, "%ld * 2 = %ld", cur, next, 0);
            break;
        default:
            next = cur / d2;
            say(d, " They share them equally among %ld people and keep one share.", d2, 0, 0);
            step(d, "%ld / %ld = %ld", cur, d2, next);
            break;
        }
        cur = next;
    }
    size_t k = strlen(d->problem);
    snprintf(d->problem + k, sizeof d->problem - k, " How many %s does %s have now?", thing, name);
    snprintf(d->answer, sizeof d->answer, "%ld", cur);
}

static void equation(stream *s, draft *d)
{
    long a = between(s, 2, 9), x = between(s, 0, 20), b = between(s, 1, 30), c = a * x + b;
    snprintf(d->problem, sizeof d->problem, "Solve for x: %ld*x + %ld = %ld.", a, b, c);
    snprintf(d->steps[d->n_steps++], sizeof d->steps[0], "%ld*x = %ld - %ld = %ld", a, c, b, c - b);
    snprintf(d->steps[d->n_steps++], sizeof d->steps[0], "x = %ld / %ld = %ld", c - b, a, x);
    snprintf(d->answer, sizeof d->answer, "%ld", x);
}

cf_trace_set *cf_traces_generate(const cf_trace_gen_config *c)
{
    if (!c || c->n < 1 || c->n > 100000000 || c->min_ops < 1 || c->max_ops > 8 || c->min_ops > c->max_ops ||
        !(c->algebra >= 0 && c->algebra <= 1)) {
        cf_set_error(CF_ERR_ARG, "trace generator: n in 1..1e8, 1 <= min_ops <= max_ops <= 8, algebra in [0, 1]");
        return NULL;
    }
    cf_trace_set *set = calloc(1, sizeof *set);
    if (set) set->items = calloc((size_t)c->n, sizeof *set->items);
    if (!set || !set->items) {
        cf_traces_free(set);
        cf_set_error(CF_ERR_OOM, "trace generator: out of memory for %lld problems", (long long)c->n);
        return NULL;
    }
    draft d;
    for (int64_t i = 0; i < c->n; i++) {
        stream s = {cf_rng_key(c->seed, (uint64_t)i), 0};
        memset(&d, 0, sizeof d);
        if (uni(&s) < c->algebra) equation(&s, &d);
        else word_problem(&s, c, &d);
        cf_trace *t = &set->items[i];
        t->problem = strdup(d.problem);
        t->answer = strdup(d.answer);
        t->steps = calloc((size_t)d.n_steps, sizeof *t->steps);
        bool ok = t->problem && t->answer && t->steps;
        for (int j = 0; ok && j < d.n_steps; j++) ok = (t->steps[j] = strdup(d.steps[j])) != NULL, t->n_steps = j + 1;
        set->n = i + 1;
        if (!ok) {
            cf_traces_free(set);
            cf_set_error(CF_ERR_OOM, "trace generator: out of memory");
            return NULL;
        }
    }
    return set;
}
