/* The JSON reader (autograd/json_read.h): values and their types, string decoding (escapes, surrogate pairs,
 * embedded NUL), exact integers, member order and duplicate keys, and one error per malformed case with its
 * line and column. */
#define CHECK_SHOW_LAST_ERROR
#include "autograd/json_read.h"
#include "tests/check.h"

#include <stdlib.h>
#include <string.h>

static cf_json_doc *parse(const char *text) { return cf_json_parse(text, strlen(text), "t.json"); }

/* The text must fail with an error containing `want`. */
static void refuses(const char *text, const char *want)
{
    cf_json_doc *d = parse(text);
    CHECK(d == NULL, "accepted %s", text);
    CHECK(strstr(cf_last_error(), want) != NULL, "%s: error '%s' lacks '%s'", text, cf_last_error(), want);
    cf_json_doc_free(d);
}

static void values(void)
{
    cf_json_doc *d = parse("{\"a\": [1, -2.5e3, true, false, null, \"x\"],\n \"b\": {\"c\": 9007199254740993},\n"
                           " \"a\": 7, \"big\": 123456789012345678901234567890}");
    CHECK(d != NULL);
    if (!d) return;
    const cf_jv *r = cf_json_root(d);
    CHECK(r->type == CF_JSON_OBJECT && r->n == 4);
    const cf_jv *a = cf_json_get(r, "a");
    CHECK(a && a->type == CF_JSON_ARRAY && a->n == 6, "the first 'a' wins");
    if (a && a->n == 6) {
        CHECK(a->items[0].is_int && a->items[0].i == 1);
        CHECK(!a->items[1].is_int && a->items[1].num == -2500.0);
        CHECK(a->items[2].type == CF_JSON_BOOL && a->items[2].b && a->items[3].type == CF_JSON_BOOL && !a->items[3].b);
        CHECK(a->items[4].type == CF_JSON_NULL);
        CHECK(a->items[5].type == CF_JSON_STRING && a->items[5].len == 1 && strcmp(a->items[5].s, "x") == 0);
    }
    const cf_jv *c = cf_json_get(cf_json_get(r, "b"), "c");
    CHECK(c && c->is_int && c->i == 9007199254740993LL, "an integer beyond 2^53 is exact");
    CHECK(c && c->line == 2, "line %d", c ? c->line : -1);
    CHECK(r->keys[2] && strcmp(r->keys[2], "a") == 0 && r->items[2].i == 7, "duplicates kept in order");
    const cf_jv *big = cf_json_get(r, "big");
    CHECK(big && !big->is_int && big->num > 1.2e29, "an integer beyond int64 keeps its double");
    CHECK(cf_json_get(r, "missing") == NULL && cf_json_get(a, "x") == NULL && cf_json_get(NULL, "a") == NULL);
    CHECK(cf_json_need(r, "b", CF_JSON_OBJECT, "t.json") != NULL);
    CHECK(cf_json_need(r, "b", CF_JSON_ARRAY, "t.json") == NULL && strstr(cf_last_error(), "expected an array, found an object"));
    CHECK(cf_json_need(r, "zz", CF_JSON_ARRAY, "t.json") == NULL && strstr(cf_last_error(), "\"zz\": missing"));
    cf_json_doc_free(d);

    d = parse("  [ ]  ");
    CHECK(d && cf_json_root(d)->type == CF_JSON_ARRAY && cf_json_root(d)->n == 0);
    cf_json_doc_free(d);
    d = parse("-0.0");
    CHECK(d && cf_json_root(d)->type == CF_JSON_NUMBER && !cf_json_root(d)->is_int);
    cf_json_doc_free(d);
    d = parse("1e-400");
    CHECK(d && cf_json_root(d)->num == 0.0, "underflow reads as 0");
    cf_json_doc_free(d);
}

static void strings(void)
{
    /* \u00e9 -> C3 A9; the pair \ud83d\ude00 -> U+1F600 -> F0 9F 98 80; \u0000 -> an embedded NUL */
    cf_json_doc *d = parse("\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\\u0000z\\u20AC\"");
    CHECK(d != NULL);
    if (d) {
        const cf_jv *s = cf_json_root(d);
        const char want[] = "a\"\\/\b\f\n\r\t\xC3\xA9\xF0\x9F\x98\x80\0z\xE2\x82\xAC";
        CHECK(s->type == CF_JSON_STRING && s->len == sizeof want - 1 && memcmp(s->s, want, sizeof want - 1) == 0,
              "decoded %zu bytes", s->len);
    }
    cf_json_doc_free(d);
    d = parse("{\"\xC4\xA0the\": 1}"); /* raw UTF-8 passes through */
    CHECK(d && strcmp(cf_json_root(d)->keys[0], "\xC4\xA0the") == 0);
    cf_json_doc_free(d);
    /* a long string crosses the scratch buffer's growth */
    size_t n = 100000;
    char *big = malloc(n + 3);
    big[0] = '"';
    memset(big + 1, 'q', n);
    big[n + 1] = '"';
    big[n + 2] = 0;
    d = parse(big);
    CHECK(d && cf_json_root(d)->len == n);
    cf_json_doc_free(d);
    free(big);
}

static void errors(void)
{
    refuses("", "t.json:1:1: unexpected end");
    refuses("{\"a\": 1,\n \"b\" 2}", "t.json:2:6: expected ':'");
    refuses("[1, 2", "expected ',' or ']'");
    refuses("[1 2]", "t.json:1:4: expected ',' or ']'");
    refuses("{\"a\": 1} x", "t.json:1:10: unexpected text after");
    refuses("{a: 1}", "expected a string key");
    refuses("\"abc", "unterminated string");
    refuses("\"a\\qb\"", "unknown escape");
    refuses("\"\\u12G4\"", "four hex digits");
    refuses("\"\\udc00\"", "lone low surrogate");
    refuses("\"\\ud800x\"", "not followed by a low surrogate");
    refuses("\"a\nb\"", "control character");
    refuses("01", "unexpected text after");
    refuses("1.", "digits expected after '.'");
    refuses("1e+", "digits expected in the exponent");
    refuses("-", "expected a value");
    refuses("tru", "expected a value");
    refuses("nul", "expected a value");
    refuses("1e999", "outside the range of a double");
    refuses("[1,]", "expected a value");
    char deep[600];
    memset(deep, '[', 300);
    memset(deep + 300, ']', 300);
    deep[600 - 1] = 0;
    refuses(deep, "nesting deeper than 256");
    memset(deep, '[', 256);
    memset(deep + 256, ']', 256);
    deep[512] = 0;
    cf_json_doc *d = parse(deep);
    CHECK(d != NULL, "256 levels are allowed");
    cf_json_doc_free(d);
    CHECK(cf_json_parse_file("/nonexistent/x.json", 0) == NULL && strstr(cf_last_error(), "/nonexistent/x.json: cannot open"));
}

int main(void)
{
    values();
    strings();
    errors();
    TEST_MAIN_END();
}
