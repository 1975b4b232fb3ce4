/* Writes the valid seed files of the fuzz corpus with the project's own writers, plus a malformed variant or
 * two of each (cut short, a flipped byte): `make_seeds tests/fuzz/corpus`. The committed corpus came from it;
 * rerun it after a format change. Text seeds (recipes, CSV) are written literally. */
#include "data/mazes/maze.h"
#include "data/pointcloud/pointcloud.h"
#include "data/spikes/spikes.h"
#include "data/text/bpe.h"
#include "layers/params.h"
#include "recipes/checkpoint/checkpoint.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *root;

static const char *at(const char *harness, const char *name)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s/%s", root, harness);
    mkdir(buf, 0777);
    snprintf(buf, sizeof buf, "%s/%s/%s", root, harness, name);
    return buf;
}

static void put(const char *harness, const char *name, const void *p, size_t n)
{
    FILE *f = fopen(at(harness, name), "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "make_seeds: cannot write %s\n", at(harness, name));
        exit(1);
    }
}

static void put_text(const char *harness, const char *name, const char *text)
{
    put(harness, name, text, strlen(text));
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)len + 1);
    *n = p ? fread(p, 1, (size_t)len, f) : 0;
    fclose(f);
    return p;
}

/* name.trunc (the first half) and name.flip (one byte inverted in the middle) next to a valid seed. */
static void malformed(const char *harness, const char *name)
{
    char path[1024], other[300];
    snprintf(path, sizeof path, "%s", at(harness, name));
    size_t n;
    unsigned char *p = slurp(path, &n);
    if (!p || n < 2) exit(1);
    snprintf(other, sizeof other, "%s.trunc", name);
    put(harness, other, p, n / 2);
    p[n / 2] ^= 0xff;
    snprintf(other, sizeof other, "%s.flip", name);
    put(harness, other, p, n);
    free(p);
}

static void check(cf_status st, const char *what)
{
    if (st != CF_OK) {
        fprintf(stderr, "make_seeds: %s: %s\n", what, cf_last_error());
        exit(1);
    }
}

static void checkpoints(void)
{
    for (int v = 0; v < 2; v++) {
        cf_params *ps = cf_params_new(v ? CF_F64 : CF_F32, 1);
        cf_params_add(ps, "embed.weight", CF_SHAPE(4, 3), true);
        cf_params_add(ps, "head.bias", CF_SHAPE(4), false);
        cf_params_add(ps, "logit_scale", 0, NULL, false);
        void *slot = calloc((size_t)ps->total, cf_dtype_size(ps->dtype));
        cf_ckpt_slot slots[1] = {{"exp_avg", slot}};
        cf_train_state st = {.step = 7, .seed = 3, .epoch = 1, .cursor = 2, .n_rng = 2, .rng = {5, 6}, .world_size = 1};
        cf_train_state_set(&st, "lr", 1e-3);
        const char *name = v ? "f64-slots.h5" : "f32.h5";
        check(cf_checkpoint_save(at("fuzz_checkpoint", name), ps, v, slots, &st, "train:\n  steps: 7\n"), name);
        malformed("fuzz_checkpoint", name);
        free(slot);
        cf_params_free(ps);
    }
}

static void spikes_h5(void)
{
    double t[6] = {0.01, 0.02, 0.5, 0.75, 1.2, 1.9};
    int64_t u[6] = {0, 1, 0, 2, 1, 0};
    cf_spikes *s = cf_spikes_from_events(t, u, 6, 3, 0.0, 2.0, "seed");
    check(s ? CF_OK : cf_last_status(), "spikes");
    check(cf_spikes_write_nwb(s, at("fuzz_spikes_h5", "units.nwb"), NULL, 0, NULL), "units.nwb");
    double start[2] = {0, 1}, stop[2] = {1, 2}, bt[3] = {0, 0.5, 1.5}, bv[6] = {1, 2, 3, 4, 5, 6};
    const char *names[2] = {"Position/x", "Position/y"};
    check(cf_spikes_set_trials(s, 2, start, stop), "trials");
    check(cf_spikes_set_behavior(s, 3, 2, bt, bv, names), "behaviour");
    check(cf_spikes_write_nwb(s, at("fuzz_spikes_h5", "trials-behavior.nwb"), NULL, 0, NULL), "trials-behavior.nwb");
    cf_spikes_free(s);
    malformed("fuzz_spikes_h5", "units.nwb");

    /* binned counts, written with plain HDF5 as another lab's tool would */
    hid_t f = H5Fcreate(at("fuzz_spikes_h5", "counts.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[2] = {2, 4}, one = 1;
    int counts[8] = {0, 1, 2, 0, 1, 0, 0, 3};
    double bw = 0.01;
    hid_t sp = H5Screate_simple(2, dims, NULL), d = H5Dcreate2(f, "counts", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, counts);
    hid_t asp = H5Screate_simple(1, &one, NULL), a = H5Acreate2(d, "bin_width", H5T_IEEE_F64LE, asp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_DOUBLE, &bw);
    H5Aclose(a), H5Sclose(asp), H5Dclose(d), H5Sclose(sp), H5Fclose(f);
}

/* what cformer reads from other tools: a tokenizer.json, a config.json, a sharded safetensors index */
static void jsons(void)
{
    put_text("fuzz_json", "tokenizer.json",
             "{\"version\": \"1.0\", \"added_tokens\": [{\"id\": 3, \"content\": \"<|end|>\", \"special\": true}],\n"
             " \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a b\"]},\n"
             " \"note\": \"\\u00e9\\ud83d\\ude00\\n\", \"x\": [-1.5e-3, true, false, null, 9007199254740993]}\n");
    put_text("fuzz_json", "config.json",
             "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 64, \"rope_theta\": 10000.0,\n"
             " \"rope_scaling\": null, \"tie_word_embeddings\": false}\n");
    put_text("fuzz_json", "index.json",
             "{\"metadata\": {\"total_size\": 128}, \"weight_map\": {\"lm_head.weight\": \"model-00001-of-00002.safetensors\"}}\n");
    malformed("fuzz_json", "tokenizer.json");
}

static void mazes(void)
{
    check(cf_maze_generate_file(at("fuzz_maze", "3x3.maze"), 3, 2, 1, NULL), "3x3.maze");
    check(cf_maze_generate_file(at("fuzz_maze", "5x5.maze"), 5, 1, 2, NULL), "5x5.maze");
    malformed("fuzz_maze", "3x3.maze");
}

static void bpe(void)
{
    static const char text[] = "the cat sat on the mat; the cat ate the rat. 123 456 123 \xc3\xa9t\xc3\xa9 \xc3\xa9t\xc3\xa9";
    cf_bpe *b = cf_bpe_train((const uint8_t *)text, sizeof text - 1, 280);
    check(b ? CF_OK : cf_last_status(), "bpe train");
    check(cf_bpe_save(b, at("fuzz_bpe", "vocab.bpe")), "vocab.bpe");
    cf_bpe_free(b);
    malformed("fuzz_bpe", "vocab.bpe");
    put_text("fuzz_bpe", "empty.bpe", "cformer-bpe 1\nmerges 0\n");
    put_text("fuzz_bpe", "bad-id.bpe", "cformer-bpe 1\nmerges 2\n104 101\n256 300\n");
}

/* A version 1.0 .npy: magic, version, header length, the dict padded to a multiple of 64, the data. */
static void npy(const char *name, const char *dict, const void *data, size_t n)
{
    unsigned char buf[4096];
    size_t hl = strlen(dict) + 1, total = 10 + hl;
    size_t pad = (64 - total % 64) % 64;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)((hl + pad) & 0xff), buf[9] = (unsigned char)((hl + pad) >> 8);
    memcpy(buf + 10, dict, hl - 1);
    memset(buf + 10 + hl - 1, ' ', pad);
    buf[10 + hl - 1 + pad] = '\n';
    if (n) memcpy(buf + total + pad, data, n);
    put("fuzz_npy", name, buf, total + pad + n);
}

static void npys(void)
{
    double f8[6] = {0, 1.5, -2, 3, 4.25, 5};
    int32_t i4[4] = {1, -2, 3, 40000};
    float f4[4] = {1, 2, 3, 4};
    unsigned char b1 = 1;
    npy("f8-2x3.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", f8, sizeof f8);
    npy("i4-4.npy", "{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }", i4, sizeof i4);
    npy("f4-fortran.npy", "{\"shape\": (2, 2), \"fortran_order\": True, \"descr\": \"<f4\"}", f4, sizeof f4);
    npy("b1-scalar.npy", "{'descr': '|b1', 'fortran_order': False, 'shape': (), }", &b1, 1);
    npy("u2-empty.npy", "{'descr': '>u2', 'fortran_order': False, 'shape': (0, 3), }", NULL, 0);
    malformed("fuzz_npy", "f8-2x3.npy");
}

static void texts(void)
{
    /* fuzz_spikes_csv: the first byte picks the options ('@' the defaults, 'A' remap_ids, 'C' also absolute
     * trial times, 'H' a 2 s trial duration) */
    put_text("fuzz_spikes_csv", "plain.csv", "@0.01,0\n0.02,1\n0.5,0\n1.25,2\n");
    put_text("fuzz_spikes_csv", "header.csv", "A# spikes\ntime;neuron;trial\n0.1; 17; 1\n0.3; 4; 1\n0.05; 17; 2\n");
    put_text("fuzz_spikes_csv", "absolute.csv", "Ct,unit,trial\n1.5,0,7\n1.75,1,7\n3.0,0,9\n");
    put_text("fuzz_spikes_csv", "quoted.csv", "H\"spike_time\"\t\"cluster\"\t\"trial_id\"\n\"0.5\"\t\"3\"\t\"0\"\n1.9\t2\t1\n");
    put_text("fuzz_spikes_csv", "bad.csv", "@0.1,0\n-1,2\nnan,1\n");
    /* one outlier row beyond the bounds: refused at its line (these once built 10 million units, 1e9 bins) */
    put_text("fuzz_spikes_csv", "huge-unit.csv", "@0,9999994");
    put_text("fuzz_spikes_csv", "late-spike.csv", "@0.1,0\n1e7,1\n");

    /* fuzz_recipe: the recipe, then NUL-separated --set assignments */
    static const char r1[] = "model:\n  type: transformer\n  dims: [64, 128]\n  attn: {window: 128, causal: true}\n"
                             "optim:\n  lr: 3.0e-4\n  betas: [0.9, 0.95]\ntrain:\n  steps: 1_000\n"
                             "data:\n  path: data/x.bin\n  files: [a.bin, \"b c.bin\"]\ncheckpoint:\n  every: 0x10\n";
    put_text("fuzz_recipe", "model.yaml", r1);
    static const char r2[] = "train: {steps: 1e3}\noptim: {lr: .inf}\0train.steps=5\0model.dims=[1, 2, 3]\0data.path=";
    put("fuzz_recipe", "sets.yaml", r2, sizeof r2 - 1);
    put_text("fuzz_recipe", "anchors.yaml", "model: &m {type: gpt}\ndata: *m\nlog: {every: ~, dir: 'x: y'}\n");
    put_text("fuzz_recipe", "bad.yaml", "model:\n  type: [a, {b: c}]\n  type: d\nbogus: 1\n---\nx: 1\n");
}

/* one small scene in every point-cloud format the readers take, its labels and calibration */
static void pointclouds(void)
{
    cf_points p = {0};
    p.n = 5;
    p.xyzi = malloc(5 * 4 * sizeof(float));
    for (int i = 0; i < 20; i++) p.xyzi[i] = 0.5f * (float)i - 2.0f;
    static const struct { const char *name; int ply, fmt; } f[] = {
        {"a.ply", 1, CF_PLY_ASCII}, {"le.ply", 1, CF_PLY_BINARY_LE}, {"be.ply", 1, CF_PLY_BINARY_BE},
        {"a.pcd", 0, CF_PCD_ASCII}, {"b.pcd", 0, CF_PCD_BINARY}, {"c.pcd", 0, CF_PCD_BINARY_COMPRESSED},
    };
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
        const char *path = at("fuzz_pointcloud", f[i].name);
        check(f[i].ply ? cf_ply_write(path, &p, (cf_ply_format)f[i].fmt, 1) : cf_pcd_write(path, &p, (cf_pcd_format)f[i].fmt), f[i].name);
        malformed("fuzz_pointcloud", f[i].name);
    }
    check(cf_kitti_bin_write(at("fuzz_pointcloud", "k.bin"), &p), "k.bin");
    cf_points_free(&p);
    cf_boxes b = {0};
    cf_box3d box = {CF_PC_CAR, 5, 1, -0.9f, 4.5f, 1.9f, 1.6f, 0.3f};
    cf_boxes_push(&b, &box);
    check(cf_kitti_labels_write(at("fuzz_pointcloud", "label.txt"), &b, NULL), "label.txt");
    cf_boxes_free(&b);
    cf_kitti_calib c;
    cf_kitti_calib_default(&c);
    check(cf_kitti_calib_write(at("fuzz_pointcloud", "calib.txt"), &c), "calib.txt");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds CORPUS_DIR\n");
        return 2;
    }
    root = argv[1];
    mkdir(root, 0777);
    checkpoints();
    spikes_h5();
    mazes();
    bpe();
    npys();
    texts();
    jsons();
    pointclouds();
    return 0;
}
