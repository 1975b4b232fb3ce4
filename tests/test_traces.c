/* Reasoning traces (data/traces/): the generator's arithmetic is exact and its chain ends at the answer, the
 * JSON Lines file round-trips and every malformed line is refused with its line, the per-use step draw has
 * the right rate and is a pure function of (seed, record, use), and the dataset's rows are the rendering of
 * the kept steps with the prompt masked out of the targets (Dualformer, Su et al., ICLR 2025, Sec. 5: the
 * answer is never dropped). */
#define CHECK_SHOW_LAST_ERROR
#include "data/traces/traces_dataset.h"
#include "tests/check.h"
#include "tests/tmpdir.h"

#include <stdlib.h>
#include <string.h>

/* "a op b = c" (or "k*x = a - b = c" / "x = a / b = c"): true when the arithmetic holds; *result gets c. */
static bool step_ok(const char *s, long *result)
{
    long a, b, c, k;
    char op;
    if (sscanf(s, "%ld*x = %ld - %ld = %ld", &k, &a, &b, &c) == 4) return *result = c, a - b == c && c % k == 0;
    if (sscanf(s, "x = %ld / %ld = %ld", &a, &b, &c) == 3) return *result = c, b != 0 && a == b * c;
    if (sscanf(s, "%ld %c %ld = %ld", &a, &op, &b, &c) != 4) return false;
    *result = c;
    switch (op) {
    case '+': return a + b == c;
    case '-': return a - b == c && c >= 0;
    case '*': return a * b == c;
    case '/': return b != 0 && a == b * c;
    default: return false;
    }
}

static void generator(void)
{
    cf_trace_gen_config c = cf_trace_gen_defaults();
    c.seed = 7, c.n = 400;
    cf_trace_set *s = cf_traces_generate(&c), *again = cf_traces_generate(&c);
    c.n = 50;
    cf_trace_set *prefix = cf_traces_generate(&c);
    CHECK(s && again && prefix);
    if (!s || !again || !prefix) return;
    int bad = 0, algebra = 0;
    for (int64_t i = 0; i < s->n; i++) {
        const cf_trace *t = &s->items[i];
        long last = -1;
        for (int j = 0; j < t->n_steps; j++)
            if (!step_ok(t->steps[j], &last)) bad++;
        if (t->n_steps < 1 || last != atol(t->answer)) bad++;
        algebra += strncmp(t->problem, "Solve for x", 11) == 0;
        if (strcmp(t->problem, again->items[i].problem) != 0 || strcmp(t->answer, again->items[i].answer) != 0) bad++;
        if (i < prefix->n && strcmp(t->problem, prefix->items[i].problem) != 0) bad++;
    }
    CHECK(bad == 0, "%d problems with a wrong step, chain or draw", bad);
    CHECK(algebra > 60 && algebra < 140, "algebra share %d of 400 (0.25 asked)", algebra);
    cf_traces_free(again);
    cf_traces_free(prefix);

    const char *path = tmp_path("t.jsonl");
    CHECK(cf_traces_write(path, s) == CF_OK);
    cf_trace_set *back = cf_traces_read(path, 0);
    CHECK(back && back->n == s->n);
    for (int64_t i = 0; back && i < s->n; i++) {
        const cf_trace *a = &s->items[i], *b = &back->items[i];
        bool same = strcmp(a->problem, b->problem) == 0 && strcmp(a->answer, b->answer) == 0 && a->n_steps == b->n_steps;
        for (int j = 0; same && j < a->n_steps; j++) same = strcmp(a->steps[j], b->steps[j]) == 0;
        CHECK(same && b->line == i + 1, "record %lld round-trips", (long long)i);
    }
    cf_traces_free(back);
    CHECK(cf_traces_read(path, 10) == NULL && strstr(cf_last_error(), ":11: more than 10 records"));
    cf_traces_free(s);
    CHECK(cf_traces_generate(&(cf_trace_gen_config){.n = 5, .min_ops = 3, .max_ops = 2}) == NULL);
}

static void refuses(const char *content, const char *want)
{
    const char *path = tmp_path("bad.jsonl");
    FILE *f = fopen(path, "w");
    fputs(content, f);
    fclose(f);
    cf_trace_set *s = cf_traces_read(path, 0);
    CHECK(s == NULL, "accepted: %s", content);
    CHECK(strstr(cf_last_error(), want) != NULL, "error '%s' lacks '%s'", cf_last_error(), want);
    cf_traces_free(s);
}

static void malformed(void)
{
    const char *good = "{\"problem\": \"p\", \"steps\": [\"1 + 1 = 2\"], \"answer\": \"2\"}\n";
    char buf[512];
    snprintf(buf, sizeof buf, "%s\n%s{\"problem\": \"p\", \"steps\": []}\n", good, good);
    refuses(buf, "bad.jsonl:4: \"answer\" missing");
    snprintf(buf, sizeof buf, "%s[1, 2]\n", good);
    refuses(buf, "bad.jsonl:2: expected an object");
    refuses("{\"problem\": \"p\", \"steps\": \"1+1\", \"answer\": \"2\"}", ":1: \"steps\" is not an array");
    refuses("{\"problem\": \"p\", \"steps\": [\"a\\nb\"], \"answer\": \"2\"}", ":1: \"steps[0]\" holds a newline");
    refuses("{\"problem\": \"p\", \"steps\": [3], \"answer\": \"2\"}", ":1: \"steps[0]\" is not a string");
    refuses("{\"problem\": \"\", \"steps\": [], \"answer\": \"2\"}", ":1: \"problem\" is empty");
    refuses("{\"problem\": \"p\", \"steps\": [], \"answer\": 2}", ":1: \"answer\" not a string");
    refuses("{\"problem\": \"p\", \"steps\": [], \"answer\": \"2\"", "bad.jsonl:1:");
    refuses("\n\n", "no traces (an empty file)");
    CHECK(cf_traces_read("/nonexistent.jsonl", 0) == NULL && strstr(cf_last_error(), "cannot open"));
}

static void draws(void)
{
    cf_trace t = {.n_steps = 10};
    bool keep[10], again[10];
    CHECK(cf_trace_draw(&t, 0.0, 1, 5, 3, keep) == 10, "p = 0 keeps every step");
    CHECK(cf_trace_draw(&t, 1.0, 1, 5, 3, keep) == 0, "p = 1 keeps none");
    long kept = 0, changed = 0;
    for (int use = 0; use < 2000; use++) {
        kept += cf_trace_draw(&t, 0.3, 9, 2, use, keep);
        cf_trace_draw(&t, 0.3, 9, 2, use, again);
        CHECK(memcmp(keep, again, sizeof keep) == 0, "a use's draw is a function of (seed, record, use)");
        cf_trace_draw(&t, 0.3, 9, 2, use + 1, again);
        changed += memcmp(keep, again, sizeof keep) != 0;
    }
    double rate = kept / 20000.0;
    CHECK(rate > 0.68 && rate < 0.72, "kept rate %.4f (0.7 asked)", rate);
    CHECK(changed > 1800, "the draw changes between uses (%ld of 2000)", changed);

    char out[32];
    CHECK(cf_trace_parse_answer("x\nAnswer: 42\n", 13, out, sizeof out) && strcmp(out, "42") == 0);
    CHECK(cf_trace_parse_answer("Answer: 1\nAnswer:  7 \r\nmore", 28, out, sizeof out) && strcmp(out, "7") == 0,
          "the last answer, trimmed");
    CHECK(!cf_trace_parse_answer("no answer here", 14, out, sizeof out));
}

static void dataset(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s", tmp_path("math.jsonl"));
    cf_trace_gen_config c = cf_trace_gen_defaults();
    c.n = 100, c.seed = 3;
    cf_trace_set *s = cf_traces_generate(&c);
    CHECK(s && cf_traces_write(path, s) == CF_OK);
    cf_traces_free(s);
    cf_traces_options o = {.path = path, .tokenizer = "byte", .seq = 400, .drop_p = 0.5, .seed = 11};
    cf_dataset *tr = cf_traces_dataset_open(&o, "train"), *va = cf_traces_dataset_open(&o, "val");
    CHECK(tr && va && tr->len == 90 && va->len == 10 && tr->info.vocab == 256);
    if (!tr || !va) return;
    cf_batch b = {0};
    CHECK(cf_dataset_make_batch(tr, 1, &b) == CF_OK);
    int mismatched = 0, differs = 0;
    char text[1024], want[1024];
    for (int64_t i = 0; i < tr->len; i++) {
        const cf_trace *t = cf_traces_dataset_record(tr, i);
        int64_t plen;
        cf_traces_dataset_prompt(tr, i, &plen);
        for (int64_t epoch = 0; epoch < 2; epoch++) {
            b.epoch = epoch;
            cf_dataset_get(tr, i, &b, 0);
            const int64_t *tok = cf_data(b.fields[0]), *tgt = cf_data(b.fields[1]);
            bool keep[CF_TRACE_MAX_STEPS];
            cf_trace_draw(t, 0.5, 11, i, epoch, keep);
            int k = snprintf(want, sizeof want, CF_TRACE_PROMPT_FMT, t->problem);
            for (int j = 0; j < t->n_steps; j++)
                if (keep[j]) k += snprintf(want + k, sizeof want - (size_t)k, CF_TRACE_STEP_FMT, t->steps[j]);
            k += snprintf(want + k, sizeof want - (size_t)k, CF_TRACE_ANSWER_FMT, t->answer);
            int n = 0;
            while (n < 400 && (n == 0 || tok[n] != 0)) text[n] = (char)tok[n], n++;
            bool ok = n == k && memcmp(text, want, (size_t)k) == 0;
            for (int64_t s2 = 0; ok && s2 < 400; s2++) {
                int64_t expect = s2 + 1 < k && s2 + 1 >= plen ? (int64_t)(unsigned char)want[s2 + 1] : -100;
                ok = tgt[s2] == expect;
            }
            mismatched += !ok;
            if (epoch == 1) differs += cf_trace_draw(t, 0.5, 11, i, 0, keep) != cf_trace_draw(t, 0.5, 11, i, 1, keep);
        }
    }
    CHECK(mismatched == 0, "%d rows differ from the rendering of their kept steps", mismatched);
    CHECK(differs > 20, "drops change between epochs (%d of 90 records)", differs);
    cf_batch_free(&b);
    const cf_trace *first_val = cf_traces_dataset_record(va, 0);
    CHECK(first_val && first_val->line == 91, "val is the last 10%% (line %lld)", first_val ? (long long)first_val->line : -1);
    CHECK(cf_traces_dataset_record(va, 10) == NULL);
    cf_dataset_free(tr);
    cf_dataset_free(va);
    /* a recipe's prompt template (a chat format) replaces the default prompt, and nothing else */
    o.prompt_template = "<|user|>{problem}<|assistant|>";
    cf_dataset *chat = cf_traces_dataset_open(&o, "val");
    CHECK(chat != NULL);
    if (chat) {
        cf_batch cb = {0};
        cf_dataset_make_batch(chat, 1, &cb);
        cb.epoch = 0;
        cf_dataset_get(chat, 0, &cb, 0);
        const cf_trace *t = cf_traces_dataset_record(chat, 0);
        char head[600];
        int k = snprintf(head, sizeof head, "<|user|>%s<|assistant|>\nAnswer: %s\n", t->problem, t->answer);
        const int64_t *tok = cf_data(cb.fields[0]);
        int64_t plen;
        cf_traces_dataset_prompt(chat, 0, &plen);
        bool same = plen == k - (int)strlen("\nAnswer: \n") - (int)strlen(t->answer);
        for (int64_t i = 0; same && i < plen; i++) same = tok[i] == (unsigned char)head[i];
        CHECK(same, "the template's prompt leads the row");
        cf_batch_free(&cb);
        cf_dataset_free(chat);
    }
    o.prompt_template = "no placeholder";
    CHECK(cf_traces_dataset_open(&o, "train") == NULL && strstr(cf_last_error(), "{problem} exactly once"));
    o.prompt_template = "{problem} twice {problem}";
    CHECK(cf_traces_dataset_open(&o, "train") == NULL && strstr(cf_last_error(), "{problem} exactly once"));
    o.prompt_template = NULL;
    o.seq = 40;
    CHECK(cf_traces_dataset_open(&o, "train") == NULL && strstr(cf_last_error(), "math.jsonl:1: the full trace is"),
          "a trace longer than seq + 1 names its line");
    o.seq = 400, o.tokenizer = "nope";
    CHECK(cf_traces_dataset_open(&o, "train") == NULL && strstr(cf_last_error(), "unknown tokenizer 'nope'"));
}

int main(void)
{
    if (!test_dir_make("traces")) return 1;
    generator();
    malformed();
    draws();
    dataset();
    test_rmtree(test_dir);
    TEST_MAIN_END();
}
