/* Reasoning traces: problems with step-by-step solutions, the JSON Lines file that holds them, a seeded
 * generator of multi-step arithmetic and algebra problems with exact steps, and Dualformer's randomized
 * traces for language models (Su et al., "Dualformer: Controllable Fast and Slow Thinking by Learning with
 * Randomized Reasoning Traces", ICLR 2025, Sec. 5: each intermediate step of a solution is dropped with
 * probability p, drawn anew every time the example is used; the final answer is never dropped).
 *
 * File format (one JSON object per line, UTF-8; blank lines skipped):
 *     {"problem": "Ann has 12 pens. She buys 3 boxes of 4 pens. How many pens does she have?",
 *      "steps": ["3 * 4 = 12", "12 + 12 = 24"], "answer": "24"}
 * problem and answer are non-empty strings, steps an array of strings (may be empty); no string may hold a
 * newline (the rendering below separates steps by newlines). Other keys are ignored. Every malformed line is
 * an error naming the file and line.
 *
 * Rendering (what a language model reads; the prompt is not trained on):
 *     prompt    "Problem: <problem>\nSolution:"
 *     response  "\n<step 1>" ... "\n<step k>" "\nAnswer: <answer>\n"
 * A use of the example keeps step j unless u(seed, record, use, j) < p (Philox, autograd/rng.h), so the
 * draw is the same on any thread count and across restarts; p = 0 keeps every step, p = 1 gives the
 * answer alone (the paper's solution-only baseline). */
#ifndef CF_TRACES_H
#define CF_TRACES_H

#include "autograd/cf_base.h"

#include <stdbool.h>
#include <stdint.h>

#define CF_TRACE_MAX_STEPS 256
#define CF_TRACE_MAX_LINE (1 << 20) /* bytes in one line of a trace file */

typedef struct cf_trace {
    char *problem;
    char **steps;
    int n_steps;
    char *answer;
    int64_t line; /* the line of the file it came from (0: generated) */
} cf_trace;

typedef struct cf_trace_set {
    cf_trace *items;
    int64_t n;
} cf_trace_set;

/* Reads a trace file; NULL with an error "path:line: what is wrong" (or naming the path when it cannot be
 * read, is empty, or holds more than max_records, 0 = no limit). */
cf_trace_set *cf_traces_read(const char *path, int64_t max_records);
/* Writes the set as JSON Lines, atomically. */
cf_status cf_traces_write(const char *path, const cf_trace_set *s);
void cf_traces_free(cf_trace_set *s);

typedef struct cf_trace_gen_config {
    uint64_t seed;
    int64_t n;          /* problems */
    int min_ops, max_ops; /* word problems: operations after the start (1..8); each gives one or two steps */
    double algebra;     /* fraction of linear equations a*x + b = c (steps: isolate, divide) */
} cf_trace_gen_config;

/* Defaults: seed 0, n 1000, 2..5 operations, algebra 0.25. */
cf_trace_gen_config cf_trace_gen_defaults(void);
/* Problems from the config: the same config gives the same set. Every step's arithmetic is exact (integers,
 * divisions exact) and every intermediate value is non-negative. */
cf_trace_set *cf_traces_generate(const cf_trace_gen_config *c);

/* Which steps one use keeps: keep[j] for j < t->n_steps (true = kept); returns the number kept. */
int cf_trace_draw(const cf_trace *t, double p, uint64_t seed, int64_t record, int64_t use, bool *keep);

/* The rendering's pieces (static formats, for callers that tokenize piecewise). The prompt is a template
 * with one "{problem}" (a recipe may give its own: data.prompt); CF_TRACE_PROMPT_FMT is the default's printf
 * form. */
#define CF_TRACE_PROMPT_TEMPLATE "Problem: {problem}\nSolution:"
#define CF_TRACE_PROMPT_FMT "Problem: %s\nSolution:"
#define CF_TRACE_STEP_FMT "\n%s"
#define CF_TRACE_ANSWER_FMT "\nAnswer: %s\n"

/* Checks a prompt template: it holds "{problem}" exactly once. false with an error naming `what`. */
bool cf_trace_template_ok(const char *tmpl, const char *what);
/* The template with {problem} replaced, into a malloc'd string (NULL with an error when out of memory). */
char *cf_trace_render_prompt(const char *tmpl, const char *problem);

/* The answer a model's response gives: the text after the last "Answer: " up to the newline (or the end),
 * trimmed of spaces, copied into out (cap bytes); false when the response has no "Answer: ". */
bool cf_trace_parse_answer(const char *response, size_t n, char *out, size_t cap);

#endif
