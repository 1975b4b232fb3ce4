/* Maze navigation tasks with A* search traces, for Searchformer (Lehnert et al., 2024) and Dualformer (Su et
 * al., ICLR 2025), in the official code's formats. This header is the data side and the evaluation checker;
 * the model, training and decoding sit on top of it.
 *
 *   maze_gen.c    the maze generator (walls, start, goal, rejection rules) and the seeded random source
 *   astar.c       A* that logs create/close steps with g and h, and BFS for checks
 *   maze_tokens.c the vocabulary and the prompt / trace / plan token formats
 *   trace_drop.c  Dualformer's randomized traces (levels 0-4) and the decoder sequence of one use
 *   maze_file.c   the flat, versioned, indexed token file (write, generate, open + validate)
 *   maze_dataset.c the cf_dataset over a maze file (batches for the encoder-decoder)
 *   plan_check.c  the plan checker and the sampled-output metrics with confidence intervals
 *
 * ---- Token vocabulary (ids are fixed; they do not depend on the maze size) ----
 *   0 pad, 1 bos, 2 eos, 3 start, 4 goal, 5 wall, 6 create, 7 close, 8 plan, 9..15 reserved (never used)
 *   16 + v       coordinate "v", v in 0..CF_MAZE_MAX_DIM-1 (a w x h maze uses v < max(w, h))
 *   48 + c       cost "c<c>", c in 0..w*h-1
 * A w x h maze's vocabulary size is cf_maze_vocab_size(w, h) = 48 + w*h; the ids a maze of that size can
 * not produce (reserved, coordinates >= max(w, h)) are outside its vocabulary (cf_maze_token_valid).
 *
 * ---- Sequences (Searchformer's token format, as the official code writes it) ----
 *   prompt (stored):  start x y goal x y (wall x y)*          walls sorted by cell index y*w + x
 *   encoder input:    bos <prompt> eos
 *   trace (stored):   (create|close x y c<g> c<h>)*           one clause per A* log step, in order
 *   plan (stored):    (plan x y)+                              every node from start to goal
 *   decoder:          bos <trace at the drawn level> <plan> eos
 * The decoder's first token after bos is the mode: `create` = slow (a trace, then the plan), `plan` = fast
 * (the plan at once); there are no extra mode tokens (Dualformer's mode control). At inference force it with
 * cf_maze_mode_token, or leave it to the model (auto).
 *
 * Coordinates: x is the column (0..w-1), y the row (0..h-1); moves are up (y+1), down (y-1), left (x-1),
 * right (x+1); step cost 1; h = Manhattan distance to the goal. */
#ifndef CF_MAZE_H
#define CF_MAZE_H

#include "autograd/cformer.h"
#include "autograd/rng.h"
#include "data/dataset.h"

#define CF_MAZE_MAX_DIM 32
#define CF_MAZE_MAX_CELLS (CF_MAZE_MAX_DIM * CF_MAZE_MAX_DIM)

enum {
    CF_MAZE_TOK_PAD = 0,
    CF_MAZE_TOK_BOS = 1,
    CF_MAZE_TOK_EOS = 2,
    CF_MAZE_TOK_START = 3,
    CF_MAZE_TOK_GOAL = 4,
    CF_MAZE_TOK_WALL = 5,
    CF_MAZE_TOK_CREATE = 6,
    CF_MAZE_TOK_CLOSE = 7,
    CF_MAZE_TOK_PLAN = 8,
    CF_MAZE_TOK_COORD0 = 16,
    CF_MAZE_TOK_COST0 = CF_MAZE_TOK_COORD0 + CF_MAZE_MAX_DIM
};

/* The ignore value of "tgt_out" for padding (as PyTorch's CrossEntropyLoss ignore_index). */
#define CF_MAZE_IGNORE (-100)

/* 48 + w*h; 0 when the size is outside 2..CF_MAZE_MAX_DIM. */
int cf_maze_vocab_size(int w, int h);
/* True when tok is in the vocabulary of a w x h maze. */
bool cf_maze_token_valid(int64_t tok, int w, int h);
/* "create", "3", "c12", ... into buf (always terminated); "<bad 4000>" for ids that are no token. */
const char *cf_maze_token_str(int64_t tok, char *buf, size_t n);
static inline int cf_maze_coord_tok(int v) { return CF_MAZE_TOK_COORD0 + v; }
static inline int cf_maze_cost_tok(int c) { return CF_MAZE_TOK_COST0 + c; }
/* The value of a coordinate / cost token, -1 when tok is not one. */
int cf_maze_tok_coord(int64_t tok);
int cf_maze_tok_cost(int64_t tok);

typedef struct cf_maze {
    int w, h;
    int sx, sy, gx, gy;
    uint8_t wall[CF_MAZE_MAX_CELLS]; /* 1 = wall, index y*w + x */
} cf_maze;

static inline bool cf_maze_is_wall(const cf_maze *m, int x, int y) { return m->wall[y * m->w + x] != 0; }
int cf_maze_wall_count(const cf_maze *m);

/* ---- random source: Philox (autograd/rng.h) keyed by (seed, stream) at a counter step; draw i of the
 * source is cf_rng_uniform(key, step, i), so a value depends only on (seed, stream, step, i) ---- */
typedef struct cf_maze_rng {
    cf_philox_key key;
    uint64_t step, next;
} cf_maze_rng;
cf_maze_rng cf_maze_rng_init(uint64_t seed, uint64_t stream, uint64_t step);
double cf_maze_rng_uniform(cf_maze_rng *r);     /* [0, 1) */
int cf_maze_rng_int(cf_maze_rng *r, int lo, int hi); /* lo..hi inclusive (Python's randint) */

/* ---- A* (as Searchformer's official code logs it) ----
 * Push start and log create; loop: pop the smallest f = g + h, log close, stop at the goal; for each child
 * (up, down, left, right; shuffled in random mode) skip it when OPEN holds it with f <= the child's f or
 * CLOSED holds it with f <= the child's f, else (re)push it (an improved OPEN entry replaces the old one)
 * and log create. Ties on f: deterministic mode pops the smaller position hash x + 100000*y first (the
 * official code's __lt__); random mode pops a uniformly random one among the equal-f entries (each push
 * draws a tie key; the official code calls random.choice inside the heap comparator). */
typedef struct cf_maze_step {
    uint8_t action; /* CF_MAZE_TOK_CREATE or CF_MAZE_TOK_CLOSE */
    uint8_t x, y;
    uint16_t g, h;
} cf_maze_step;

/* The log and the plan of one search. Zero-initialise; it keeps its buffers between calls (no allocation
 * once they are large enough); free with cf_maze_search_free. */
typedef struct cf_maze_search {
    cf_maze_step *steps;
    int n_steps, cap_steps;
    int16_t plan[CF_MAZE_MAX_CELLS]; /* cell indices y*w + x from start to goal */
    int plan_len;                    /* nodes including start; 0 when the goal is unreachable */
    void *scratch;                   /* internal: heap and per-cell state */
} cf_maze_search;
void cf_maze_search_free(cf_maze_search *s);

/* rng is used (and required) only when deterministic is false. CF_OK also when the goal is unreachable
 * (then plan_len = 0 and the log holds the exhausted search). */
cf_status cf_maze_astar(const cf_maze *m, bool deterministic, cf_maze_rng *rng, cf_maze_search *s);
/* Nodes of a shortest start->goal path by BFS (start counts), 0 when unreachable. For checks. */
int cf_maze_bfs_nodes(const cf_maze *m);

/* ---- generator (Searchformer's maze tasks, as the official code draws them) ---- */
typedef struct cf_maze_gen_options {
    int width, height;        /* 0: the size given to the call */
    bool deterministic;       /* deterministic A* tie-break (default false: the datasets' random mode) */
    bool official_wall_count; /* walls randint((wh/10)*3, (wh/10)*5) with integer wh/10 as the official code;
                                 default randint(floor(3wh/10), floor(5wh/10)) (equal when wh % 10 == 0) */
    int attempts_per_layout;  /* start/goal draws on one wall layout before a new layout (default 100, as the
                                 official --num-attempts-per-maze) */
    int min_plan_nodes;       /* reject plans with fewer nodes; 0 = max(w, h) (the official rule) */
} cf_maze_gen_options;
cf_maze_gen_options cf_maze_gen_defaults(void);

/* Task `index` of the stream `seed`: draws a wall layout (num_walls uniform in the range above, the walls a
 * uniform subset of the cells), then up to attempts_per_layout (start, goal) pairs of distinct free cells;
 * a pair is rejected when A* finds no plan or the plan has fewer than min_plan_nodes nodes; when every
 * pair of a layout is rejected a new layout is drawn (at most 1000 layouts, then CF_ERR_ARG: the options
 * admit no task). One task per layout (the official code keeps up to 100 distinct (start, goal) pairs of
 * one layout). Pure function of (index, seed, options): the draws come from cf_maze_rng_init(seed, index, 0).
 * s receives the A* search of the returned task. size is used where options leave width/height 0. */
cf_status cf_maze_generate(int64_t index, uint64_t seed, int size, const cf_maze_gen_options *opt, cf_maze *m,
                           cf_maze_search *s);

/* ---- tokens ---- */
/* Each writes at most cap tokens and returns the count, or -1 with an error when cap is too small.
 * Sizes: prompt 6 + 3*walls (<= 6 + 3*w*h), trace 5*n_steps, plan 3*plan_len. */
int cf_maze_prompt_tokens(const cf_maze *m, uint16_t *out, int cap);
int cf_maze_trace_tokens(const cf_maze_search *s, uint16_t *out, int cap);
int cf_maze_plan_tokens(const cf_maze *m, const cf_maze_search *s, uint16_t *out, int cap);
/* Parses a stored prompt (without bos/eos) of a w x h maze back into the maze. CF_ERR_FORMAT naming the
 * token position when it is not `start x y goal x y (wall x y)*` in bounds with walls strictly increasing
 * in cell index and start, goal distinct free cells. */
cf_status cf_maze_from_prompt(const uint16_t *tok, int n, int w, int h, cf_maze *m);
/* The token to force after bos: slow = create, fast = plan. */
typedef enum cf_maze_mode { CF_MAZE_MODE_AUTO = 0, CF_MAZE_MODE_SLOW, CF_MAZE_MODE_FAST } cf_maze_mode;
int cf_maze_mode_token(cf_maze_mode mode); /* -1 for auto (no forced token) */

/* One task as token sections (stored without bos/eos; see the format above). */
typedef struct cf_maze_record {
    const uint16_t *prompt;
    const uint16_t *trace;
    const uint16_t *plan;
    int32_t n_prompt, n_trace, n_plan;
} cf_maze_record;

/* Checks one record of a w x h maze: every token in the vocabulary, the prompt parses (cf_maze_from_prompt),
 * the trace is 5-token clauses (create|close x y c<g> c<h>) in bounds, the plan is `plan x y` triples from
 * start to goal in unit steps off the walls. CF_ERR_FORMAT naming the section and token position. */
cf_status cf_maze_record_check(const cf_maze_record *r, int w, int h);

/* ---- randomized traces (Dualformer's trace-dropping levels, Su et al., ICLR 2025) ----
 * Level 0 the full trace; 1 only the create clauses (create x y cg ch); 2 level 1 without costs
 * (create x y); 3 paper: level 2 with each clause dropped independently with probability level3_drop_p
 * (0.3), code (CF_MAZE_L3_CODE, the official maze tokenizer): a random randint(10, 40)% of the level-1
 * clauses dropped (an exact count floor(n*pct/100), a uniform subset) and the costs KEPT; 4 no trace. */
typedef enum cf_maze_level3 { CF_MAZE_L3_PAPER = 0, CF_MAZE_L3_CODE = 1 } cf_maze_level3;

/* Which trace the decoder sees. FULL: level 0 always (Searchformer). RANDOM: a level drawn per use from
 * level_p (Dualformer). NONE: the plan only (Solution-Only; the same sequence as level 4). */
typedef enum cf_maze_trace_mode { CF_MAZE_TRACE_FULL = 0, CF_MAZE_TRACE_RANDOM, CF_MAZE_TRACE_NONE } cf_maze_trace_mode;

typedef struct cf_maze_draw_config {
    cf_maze_trace_mode trace;
    double level_p[5];       /* P(level 0..4) for RANDOM: each >= 0, summing to 1 (within 1e-6) */
    cf_maze_level3 level3;   /* CF_MAZE_L3_PAPER (default) or CF_MAZE_L3_CODE */
    double level3_drop_p;    /* paper level 3's per-clause drop probability (0.3) */
    bool draw_once;          /* the official Sokoban tokenizer's caching: the draw is keyed by the example
                                alone, so each example keeps one draw for the whole run (default false:
                                re-drawn every use, i.e. every epoch) */
    uint64_t seed;           /* the draws' seed (the run's seed) */
} cf_maze_draw_config;
/* FULL, level_p = (1, 0, 0, 0, 0), paper level 3 with p 0.3, re-drawn each use, seed 0. */
cf_maze_draw_config cf_maze_draw_defaults(void);
cf_status cf_maze_draw_config_check(const cf_maze_draw_config *c);

/* The level for one uniform u in [0, 1): the official order, u < p1 -> 1, < p1+p2 -> 2, < p1+p2+p3 -> 3,
 * < p1+..+p4 -> 4, else 0. */
int cf_maze_pick_level(const double level_p[5], double u);
/* Applies level 0..4 to a stored (level-0) trace. out must hold n tokens. CF_ERR_FORMAT when trace is not
 * a sequence of 5-token clauses. rng is used by level 3 only. */
cf_status cf_maze_drop_trace(const uint16_t *trace, int n, int level, cf_maze_level3 l3, double drop_p,
                             cf_maze_rng *rng, uint16_t *out, int *n_out);
/* The decoder sequence of one use of record `record` at `epoch`, WITHOUT the leading bos:
 * <trace at the drawn level> <plan> eos. The draw comes from cf_maze_rng_init(seed, record | 1<<62, epoch)
 * (epoch replaced by 0 when draw_once): its first uniform picks the level, the rest drive level 3. cap must
 * hold n_trace + n_plan + 1 tokens. Returns the length, or -1 with an error; *level_out (may be NULL) gets
 * the level used (0 for FULL, 4 for NONE). The prompt and the plan are never changed. */
int cf_maze_decoder_sequence(const cf_maze_record *r, const cf_maze_draw_config *c, int64_t record, int64_t epoch,
                             uint16_t *out, int cap, int *level_out);
/* The longest decoder sequence (without bos, with eos) any draw under c can give for r. */
int cf_maze_decoder_max_len(const cf_maze_record *r, const cf_maze_draw_config *c);

/* ---- the file (little-endian; written to a temporary name, fsynced, renamed) ----
 *   header (96 bytes)  magic "CFMAZE\0\0", u32 version (1), u32 header bytes (96), u16 width, u16 height,
 *                      u32 vocab size, u64 count, u64 seed, u32 flags (bit 0 deterministic A*, bit 1
 *                      official wall count), u32 min plan nodes, u64 index offset (96), u64 data offset,
 *                      u64 data bytes, u32 max prompt / trace / plan tokens, u32 crc32 of the index,
 *                      u32 crc32 of the data, u32 crc32 of header bytes 0..91
 *   index              count entries of 24 bytes: u64 token offset into the data, u32 n_prompt, n_trace,
 *                      n_plan, u32 0
 *   data               uint16 tokens: each record's prompt, trace, plan (sections as above)
 * The index precedes the data so that a truncated file still names the first record it cuts. */
#define CF_MAZE_FILE_VERSION 1u
#define CF_MAZE_FLAG_DETERMINISTIC 1u
#define CF_MAZE_FLAG_OFFICIAL_WALLS 2u

typedef struct cf_maze_writer cf_maze_writer;
/* Opens a temporary file next to path (cf_atomic_open) for exactly `count` records of a w x h maze. */
cf_maze_writer *cf_maze_writer_open(const char *path, int w, int h, int64_t count, uint64_t seed, uint32_t flags,
                                    int min_plan_nodes);
/* Checks the record (vocabulary, section grammar) and appends it. */
cf_status cf_maze_writer_add(cf_maze_writer *wr, const cf_maze_record *r);
/* Writes index and header, fsyncs, renames over path, fsyncs the directory; frees wr. On failure the
 * temporary file is removed and path is unchanged. */
cf_status cf_maze_writer_commit(cf_maze_writer *wr);
void cf_maze_writer_abort(cf_maze_writer *wr); /* removes the temporary file, frees wr; NULL is fine */

/* All n records in one file (header seed 0, flags 0, min plan nodes 0). */
cf_status cf_maze_write_file(const char *path, int w, int h, const cf_maze_record *recs, int64_t n);
/* `count` tasks 0..count-1 of cf_maze_generate(i, seed, size, opt) (opt NULL = defaults), for
 * `cformer data mazes --size 7 --count 20000 -o mazes.bin`. */
cf_status cf_maze_generate_file(const char *path, int size, int64_t count, uint64_t seed,
                                const cf_maze_gen_options *opt);

typedef struct cf_maze_file cf_maze_file;
typedef struct cf_maze_file_info {
    uint32_t version, flags;
    int width, height, vocab_size, min_plan_nodes;
    int64_t count;
    uint64_t seed;
    int32_t max_prompt, max_trace, max_plan;
} cf_maze_file_info;
/* Reads and validates the whole file: magic, version, header checksum, sizes, every index entry (offsets
 * and lengths inside the data; truncation), every token in the vocabulary of the file's maze size, each
 * section's grammar (the prompt parses to a maze), the checksums. Errors name the path and, for a record,
 * its index: "mazes.bin: record 17: trace token 40 = 3000 outside the vocabulary (size 97)". */
cf_maze_file *cf_maze_file_open(const char *path);
/* The same over the n bytes of a maze file in memory (copied); `what` names them in messages. */
cf_maze_file *cf_maze_file_open_mem(const void *buf, size_t n, const char *what);
void cf_maze_file_close(cf_maze_file *f);
cf_maze_file_info cf_maze_file_get_info(const cf_maze_file *f);
const char *cf_maze_file_path(const cf_maze_file *f);
/* Record i (views into the file's memory, valid until close). */
cf_status cf_maze_file_record(const cf_maze_file *f, int64_t i, cf_maze_record *out);
/* Record i's maze (from its prompt) and its optimal plan length in nodes. */
cf_status cf_maze_file_maze(const cf_maze_file *f, int64_t i, cf_maze *m, int *optimal_nodes);

/* ---- the dataset (data/dataset.h) for the Searchformer encoder-decoder ----
 * Item i is one record of the split. Batch fields (B rows):
 *   "src"     i64  [B, S]  bos <prompt> eos, then pad (0)
 *   "src_pad" bool [B, S]  true at padding
 *   "tgt_in"  i64  [B, T]  bos + seq[:-1], then pad     (seq = cf_maze_decoder_sequence: trace plan eos)
 *   "tgt_out" i64  [B, T]  seq, then CF_MAZE_IGNORE (-100)
 *   "index"   i64  [B]     the record's index in the file (to fetch its maze for evaluation)
 * The draw of one use is keyed by (cfg seed, record index, batch epoch) (b->epoch from the loader; 0 when a
 * batch is filled outside a loader), so it is re-drawn every epoch and reproducible on resume.
 * Lengths: S = max_src and T = max_tgt, or (when 0) the longest the split can produce. An item longer than
 * S or T (its longest possible draw) is skipped (default: left out of the split when opened) or, with
 * truncate, cut at S / T (then the target may lose its plan and eos). Both counts are in the stats.
 * The official code's loss: CE over tgt_out (every token after bos), averaged over each row's non-ignored
 * tokens, then over the rows.
 * Splits by record index of the file: "train" = the first records, "val" = the last
 * ceil(val_fraction * count) records (default 5%), "all" or "test" = every record (use "test" on a
 * separate file generated with another seed). */
typedef struct cf_maze_ds_config {
    cf_maze_draw_config draw;
    int64_t max_src, max_tgt; /* 0: the longest in the split */
    bool truncate;            /* cut over-long items instead of skipping them */
    double val_fraction;      /* 0.05 */
} cf_maze_ds_config;
cf_maze_ds_config cf_maze_ds_defaults(void);

cf_dataset *cf_maze_dataset_open(const char *path, const cf_maze_ds_config *cfg, const char *split, cf_status *st);

typedef struct cf_maze_ds_stats {
    int64_t file_records;  /* records in the file */
    int64_t split_records; /* records the split covers (before skipping) */
    int64_t items;         /* the dataset's len */
    int64_t skipped;       /* left out as too long (skip mode) */
    int64_t truncatable;   /* items whose longest draw exceeds S or T (truncate mode) */
    int64_t src_len, tgt_len; /* S and T */
    int width, height, vocab_size;
} cf_maze_ds_stats;
cf_status cf_maze_dataset_stats(const cf_dataset *ds, cf_maze_ds_stats *out);
/* The file behind a maze dataset (for evaluation: records and mazes by index); NULL otherwise. */
const cf_maze_file *cf_maze_dataset_file(const cf_dataset *ds);
/* The file record of item i, -1 when out of range or ds is no maze dataset. */
int64_t cf_maze_dataset_record(const cf_dataset *ds, int64_t i);
/* How a maze dataset draws its traces (NULL for other datasets). */
const cf_maze_draw_config *cf_maze_dataset_draw(const cf_dataset *ds);

/* A factory-shaped opener that takes options instead of a recipe: options is a `const cf_maze_options *`.
 * It is not registered; the recipes' `mazes` dataset is cf_mazes_factory (recipes/dualformer/model.h). */
typedef struct cf_maze_options {
    const char *path;
    cf_maze_ds_config cfg;
} cf_maze_options;
cf_dataset *cf_maze_factory(void *options, const char *split);

/* ---- evaluation (Dualformer's metrics: 1-Solved-k, 1-Optimal-k, SWC, reasoning steps, diversity) ---- */
/* Why a sampled output has no correct plan. The checks run in this order; the first failure is reported. */
typedef enum cf_plan_verdict {
    CF_PLAN_OK = 0,
    CF_PLAN_NO_PLAN,       /* no `plan` token before eos / the end */
    CF_PLAN_SYNTAX,        /* after the first `plan`: not a sequence of `plan x y` (e.g. a trace token,
                              a cut triple, a non-coordinate where a coordinate belongs) */
    CF_PLAN_OUT_OF_BOUNDS, /* a node outside 0..w-1 x 0..h-1 (the official code does not check this) */
    CF_PLAN_BAD_START,     /* first node is not start */
    CF_PLAN_BAD_GOAL,      /* last node is not goal */
    CF_PLAN_WALL,          /* a node on a wall */
    CF_PLAN_BAD_STEP,      /* consecutive nodes not at Manhattan distance 1 */
    CF_PLAN_VERDICT_COUNT
} cf_plan_verdict;
const char *cf_plan_verdict_name(cf_plan_verdict v);

typedef struct cf_plan_check {
    cf_plan_verdict verdict;
    bool correct;      /* verdict == CF_PLAN_OK */
    bool optimal;      /* correct and plan_nodes == the optimal node count */
    bool has_eos;      /* an eos ended the output (not required for correctness, as the official code) */
    cf_maze_mode mode; /* SLOW when the first token (after an optional bos) is create, FAST when plan, AUTO
                          (= neither) otherwise */
    int plan_nodes;    /* parsed `plan x y` triples (also for incorrect plans; 0 on NO_PLAN / SYNTAX) */
    int trace_tokens;  /* reasoning steps: tokens before the first `plan` (after the optional bos; up to
                          eos / the end when there is no plan) */
    int bad_node;      /* index of the offending node for OUT_OF_BOUNDS/WALL/BAD_STEP, else -1 */
    uint64_t plan_hash; /* FNV-1a of the node cells, to count distinct plans (0 when not parsed) */
} cf_plan_check;

/* Checks one sampled decoder output against maze m whose optimal plan has optimal_nodes nodes (from the
 * file's plan or cf_maze_bfs_nodes). tokens: the output, with or without the leading bos; it ends at the
 * first eos or pad, or at n. */
cf_plan_check cf_maze_check_plan(const cf_maze *m, int optimal_nodes, const int64_t *tokens, int64_t n);

/* A rate or a mean with its 95% confidence interval [lo, hi] over n units. */
typedef struct cf_maze_stat {
    double value, lo, hi;
    int64_t n;
} cf_maze_stat;
/* Wilson score interval for successes / n (n = 0: all NaN). */
cf_maze_stat cf_maze_wilson(int64_t successes, int64_t n);
/* Mean with the normal interval mean +- 1.96 * sd / sqrt(n) (sample sd; n < 2: lo = hi = NaN). */
cf_maze_stat cf_maze_mean_ci(const double *x, int64_t n);

/* Metrics of one decoding mode over `tasks` tasks with k samples each (checks[t*k + j] = sample j of task t,
 * all under the same mode). Rates are over tasks (Wilson); means are the mean of per-task means with the
 * normal interval over tasks (samples of one task are not independent).
 *   solved1/optimal1: tasks with >= 1 correct / optimal sample (1-Solved-k, 1-Optimal-k)
 *   solved3/optimal3: tasks with >= 3 (3-Solved-k, 3-Optimal-k)
 *   correct_rate/optimal_rate: per-sample rates (task means)
 *   swc: mean of 1[correct] * c_opt / c with c = plan_nodes - 1 steps and c_opt the optimal steps
 *   reasoning: mean trace_tokens
 *   diversity_correct / diversity_optimal: distinct correct / optimal plans among a task's k samples
 *   slow_fraction: samples whose mode is SLOW (what auto mode chose) */
typedef struct cf_maze_metrics {
    int64_t tasks;
    int k;
    cf_maze_stat solved1, solved3, optimal1, optimal3;
    cf_maze_stat correct_rate, optimal_rate, swc, reasoning, diversity_correct, diversity_optimal, slow_fraction;
} cf_maze_metrics;
/* optimal_nodes[t] is task t's optimal plan length (needed for SWC). */
cf_status cf_maze_metrics_compute(const cf_plan_check *checks, const int *optimal_nodes, int64_t tasks, int k,
                                  cf_maze_metrics *out);
/* Checks and metrics in one call, from the raw samples: outputs is a [tasks * k, stride] i64 array (sample j
 * of task t in row t*k + j, as cf_maze_check_plan takes it; a row is read up to lens[row] tokens when lens
 * is not NULL, else up to stride); mazes[t] and optimal_nodes[t] describe task t (e.g. cf_maze_file_maze). */
cf_status cf_maze_metrics_from_outputs(const cf_maze *mazes, const int *optimal_nodes, const int64_t *outputs,
                                       int64_t stride, const int64_t *lens, int64_t tasks, int k,
                                       cf_maze_metrics *out);

#endif
